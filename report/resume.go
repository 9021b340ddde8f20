package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/simreset/simreset/batch"
)

// DoneSet is the set of ICCIDs an earlier run already reset, as LoadDone read it from
// a result file. The zero value is an empty set. Has and Len are safe for concurrent
// use once LoadDone has returned.
type DoneSet struct {
	keys keySet
}

// Has reports whether iccid (normalised, as batch writes it) is already reset.
func (d *DoneSet) Has(iccid string) bool {
	if d == nil || d.keys == nil {
		return false
	}
	return d.keys.has(iccid)
}

// Len returns how many ICCIDs are in the set.
func (d *DoneSet) Len() int {
	if d == nil || d.keys == nil {
		return 0
	}
	return d.keys.len()
}

// keySet hides how ICCIDs are stored, so LoadDone need not care.
type keySet interface {
	add(iccid string)
	remove(iccid string)
	has(iccid string) bool
	len() int
}

// packedSet is a keySet that stores an ICCID as a 12-byte batch.ICCIDKey in a
// batch.ICCIDTable, a fraction of a string-keyed map's memory at a million SIMs.
// Removing marks a key not done rather than deleting it (the table cannot
// delete). A value the key cannot represent exactly (not a normalised ICCID:
// lower-case, too long, other characters) goes into a plain map instead, so two
// different values never share an entry.
type packedSet struct {
	keys  *batch.ICCIDTable
	done  int // keys whose value is valDone
	other map[string]struct{}
}

// Values in packedSet.keys.
const (
	valDone    = 1
	valNotDone = 2
)

func newPackedSet() *packedSet {
	return &packedSet{keys: batch.NewICCIDTable(0), other: map[string]struct{}{}}
}

// keyOf returns iccid's packed key, and whether that key stands for iccid alone.
func keyOf(iccid string) (batch.ICCIDKey, bool) {
	k := batch.KeyOf(iccid)
	return k, k.String() == iccid
}

func (s *packedSet) add(iccid string) { s.mark(iccid, valDone) }

func (s *packedSet) remove(iccid string) { s.mark(iccid, valNotDone) }

func (s *packedSet) mark(iccid string, val int32) {
	k, ok := keyOf(iccid)
	if !ok {
		if val == valDone {
			s.other[iccid] = struct{}{}
		} else {
			delete(s.other, iccid)
		}
		return
	}
	was := s.keys.Get(k)
	if was == val || (was == 0 && val == valNotDone) {
		return
	}
	if val == valDone {
		s.done++
	} else {
		s.done--
	}
	s.keys.Set(k, val)
}

func (s *packedSet) has(iccid string) bool {
	if k, ok := keyOf(iccid); ok {
		return s.keys.Get(k) == valDone
	}
	_, found := s.other[iccid]
	return found
}

func (s *packedSet) len() int { return s.done + len(s.other) }

// The positions of the columns LoadDone reads, in Header.
const (
	colICCID   = 1
	colOutcome = 2
	numColumns = 8
)

// LoadDone reads an earlier result file and returns the ICCIDs whose latest line says
// the SIM is reset.
//
// Lines are read in order and the latest relevant line wins:
//   - reset and skipped (a resumed run found it already reset) put the ICCID in the set;
//   - failed and not_attempted take it out;
//   - invalid and duplicate lines say nothing about the SIM and change nothing (a
//     duplicate line carries the ICCID of the row it repeats).
//
// The header must be Header (a leading BOM is tolerated). A last line cut short by a
// hard kill (no final '\n') is ignored, as OpenOutput with resume will cut it. Any
// other malformed line is an error naming the file and line. The file is streamed:
// memory grows with the set, not with the file.
func LoadDone(path string) (*DoneSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: read earlier results: %w", err)
	}
	defer f.Close()
	end, err := completeLength(f)
	if err != nil {
		return nil, fmt.Errorf("report: read earlier results %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("report: read earlier results %s: %w", path, err)
	}
	set := newPackedSet()
	if err := loadDone(io.LimitReader(f, end), set); err != nil {
		return nil, fmt.Errorf("report: earlier results %s: %w", path, err)
	}
	return &DoneSet{keys: set}, nil
}

// loadDone fills set from the complete lines in r.
func loadDone(r io.Reader, set keySet) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked here, with a better message
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil // empty, or only a cut header: nothing was done
	}
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\uFEFF")
	}
	if got := strings.Join(head, ","); got != Header {
		return fmt.Errorf("line 1: header is %q, want %q: not a simreset result file", got, Header)
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err // csv.ParseError carries the line
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != numColumns {
			return fmt.Errorf("line %d: %d fields, want %d", line, len(rec), numColumns)
		}
		iccid := rec[colICCID]
		switch batch.Outcome(rec[colOutcome]) {
		case batch.OutcomeReset, batch.OutcomeSkipped:
			set.add(iccid)
		case batch.OutcomeFailed, batch.OutcomeNotAttempted:
			set.remove(iccid)
		case batch.OutcomeInvalid, batch.OutcomeDuplicate:
		default:
			return fmt.Errorf("line %d: unknown outcome %q", line, rec[colOutcome])
		}
	}
}
