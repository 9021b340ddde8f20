package report

import (
	"errors"
	"fmt"

	"github.com/gofrs/flock"
)

// ErrLocked is returned (wrapped, with the lock's path) by AcquireLock when another
// run holds the lock.
var ErrLocked = errors.New("report: another run holds the lock")

// AcquireLock takes the exclusive lock at path (created 0640 if missing) without
// waiting: when another run holds it, the error wraps ErrLocked and names the path.
// The caller calls release when the run is over; calling it again is harmless.
//
// The lock is flock(2) on an open file: the kernel drops it when the process dies,
// so a killed run never leaves a stale lock behind, and the file itself is left in
// place (removing it would let two runs lock two different files of the same name).
// It is held per open file description, so a second AcquireLock on the same path
// fails even within one process.
func AcquireLock(path string) (release func() error, err error) {
	fl := flock.New(path, flock.SetPermissions(0o640))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("report: lock %s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: another simreset run holds %s; wait for it to finish, or give this run another --out or --lock", ErrLocked, path)
	}
	return func() error {
		if err := fl.Close(); err != nil {
			return fmt.Errorf("report: release lock %s: %w", path, err)
		}
		return nil
	}, nil
}
