package report

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func line(row int, iccid, outcome string) string {
	return strings.Join([]string{strconv.Itoa(row), iccid, outcome, "", "", "1", "10", "2024-05-01T10:00:00.250Z"}, ",") + "\n"
}

func TestLoadDone(t *testing.T) {
	const a, b, c = "8981100000000000001", "8981100000000000019", "8981100000000000027"
	for _, tc := range []struct {
		name    string
		content string
		done    []string
		notDone []string
	}{
		{"reset", Header + "\n" + line(2, a, "reset"), []string{a}, []string{b}},
		{"reset then failed", Header + "\n" + line(2, a, "reset") + line(2, a, "failed"), nil, []string{a}},
		{"failed then reset", Header + "\n" + line(2, a, "failed") + line(2, a, "reset"), []string{a}, nil},
		{"reset then not attempted", Header + "\n" + line(2, a, "reset") + line(2, a, "not_attempted"), nil, []string{a}},
		{"skipped counts as done", Header + "\n" + line(2, a, "skipped"), []string{a}, nil},
		{"a duplicate line changes nothing", Header + "\n" + line(2, a, "reset") + line(5, a, "duplicate"), []string{a}, nil},
		{"invalid changes nothing", Header + "\n" + line(2, a, "invalid"), nil, []string{a}},
		{"cut last line ignored", Header + "\n" + line(2, a, "reset") + line(3, b, "reset") + "4," + c + ",res", []string{a, b}, []string{c}},
		{"last line without newline ignored", Header + "\n" + line(2, a, "reset") + strings.TrimSuffix(line(3, b, "reset"), "\n"), []string{a}, []string{b}},
		{"cut header", "row,iccid,out", nil, []string{a}},
		{"empty", "", nil, []string{a}},
		{"BOM before header", "\uFEFF" + Header + "\n" + line(2, a, "reset"), []string{a}, nil},
		{"CRLF", strings.ReplaceAll(Header+"\n"+line(2, a, "reset"), "\n", "\r\n"), []string{a}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.csv")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			d, err := LoadDone(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.done {
				if !d.Has(s) {
					t.Errorf("Has(%s) = false, want true", s)
				}
			}
			for _, s := range tc.notDone {
				if d.Has(s) {
					t.Errorf("Has(%s) = true, want false", s)
				}
			}
			if got, want := d.Len(), len(tc.done); got != want {
				t.Errorf("Len() = %d, want %d", got, want)
			}
		})
	}
}

func TestLoadDoneErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"wrong header", "iccid,status\n8981100000000000001,ok\n", "line 1: header"},
		{"short line", Header + "\n2,8981100000000000001,reset\n", "line 2: 3 fields, want 8"},
		{"unknown outcome", Header + "\n" + line(2, "8981100000000000001", "done"), `line 2: unknown outcome "done"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "earlier.csv")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadDone(path)
			if err == nil {
				t.Fatal("LoadDone succeeded, want an error")
			}
			for _, s := range []string{path, tc.want} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
	if _, err := LoadDone(filepath.Join(t.TempDir(), "missing.csv")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadDone(missing) = %v, want a not-exist error", err)
	}
}

// TestLoadDoneReadsWriterOutput closes the loop: what Writer writes, LoadDone reads.
func TestLoadDoneReadsWriterOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv")
	f, needHeader, err := OpenOutput(path, false, false)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, needHeader)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range oneOfEach() {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	d, err := LoadDone(path)
	if err != nil {
		t.Fatal(err)
	}
	// Row 2 reset and row 7 skipped; row 6 repeats row 2 and must not undo it.
	for iccid, want := range map[string]bool{
		"8981100000000000001": true, "8981100000000000035": true,
		"8981100000000000019": false, "8981100000000000043": false,
	} {
		if got := d.Has(iccid); got != want {
			t.Errorf("Has(%s) = %v, want %v", iccid, got, want)
		}
	}
	if got := d.Len(); got != 2 {
		t.Errorf("Len() = %d, want 2", got)
	}
}

func TestDoneSetZero(t *testing.T) {
	var d *DoneSet
	if d.Has("89") || d.Len() != 0 {
		t.Error("a nil DoneSet is not empty")
	}
}

func TestPackedSet(t *testing.T) {
	s := newPackedSet()
	// Values a packed key cannot tell apart must still be different entries.
	vals := []string{"8981100000000000001", "89811000000000000010", "898110000000000000AB", "898110000000000000ab", "89-x", "8981100000000000001000000000"}
	for _, v := range vals {
		s.add(v)
	}
	if got := s.len(); got != len(vals) {
		t.Errorf("len = %d, want %d", got, len(vals))
	}
	for _, v := range vals {
		if !s.has(v) {
			t.Errorf("has(%q) = false", v)
		}
	}
	if s.has("8981100000000000002") || s.has("898110000000000000") {
		t.Error("has a value never added")
	}
	for _, v := range vals {
		s.remove(v)
	}
	if s.len() != 0 {
		t.Errorf("len after removing all = %d", s.len())
	}
}
