package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAcquireLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv.lock")
	release, err := AcquireLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("lock file: %v, %v; want mode 640", st, err)
	}

	// flock(2) locks belong to an open file description, so a second AcquireLock in
	// this same process conflicts just as another process would.
	_, err = AcquireLock(path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second AcquireLock: err = %v, want ErrLocked", err)
	}
	for _, s := range []string{"another simreset run holds " + path} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}

	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Errorf("second release: %v", err)
	}
	release2, err := AcquireLock(path)
	if err != nil {
		t.Fatalf("AcquireLock after release: %v", err)
	}
	if err := release2(); err != nil {
		t.Fatal(err)
	}
}

func TestAcquireLockMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir.lock")
	if _, err := AcquireLock(path); err == nil || errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Errorf("AcquireLock in a missing dir: %v, want an error naming %s that is not ErrLocked", err, path)
	}
}
