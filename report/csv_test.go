package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simreset/simreset/batch"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var finished = time.Date(2024, 5, 1, 12, 0, 0, 250_000_000, time.FixedZone("CEST", 2*3600))

// oneOfEach is a result of every outcome, as the pool and the reader make them.
func oneOfEach() []batch.Result {
	return []batch.Result{
		{Row: 2, ICCID: "8981100000000000001", Outcome: batch.OutcomeReset, StatusCode: 200, Message: "UpdateSuccess", Attempts: 1, Duration: 123456789 * time.Nanosecond, FinishedAt: finished},
		{Row: 3, ICCID: "8981100000000000019", Outcome: batch.OutcomeFailed, StatusCode: 404, Message: "ICCID not found", Attempts: 1, Duration: 45 * time.Millisecond, FinishedAt: finished},
		{Row: 4, ICCID: "8981100000000000027", Outcome: batch.OutcomeFailed, Message: "dial tcp 127.0.0.1:1: connection refused", Attempts: 5, Duration: 3 * time.Second, FinishedAt: finished},
		{Row: 5, ICCID: "8.98811E+18", Outcome: batch.OutcomeInvalid, Message: "scientific notation, digits lost: re-export the ICCID column as text", FinishedAt: finished},
		{Row: 6, ICCID: "8981100000000000001", Outcome: batch.OutcomeDuplicate, Message: "repeats row 2", FinishedAt: finished},
		{Row: 7, ICCID: "8981100000000000035", Outcome: batch.OutcomeSkipped, Message: "already reset", FinishedAt: finished},
		{Row: 8, ICCID: "8981100000000000043", Outcome: batch.OutcomeNotAttempted, Message: "deadline reached", FinishedAt: finished},
		{Row: 9, ICCID: "8981100000000000050", Outcome: batch.OutcomeFailed, StatusCode: 500, Message: "line one\r\nline two, \"quoted\"", Attempts: 5, Duration: 1500 * time.Millisecond, FinishedAt: finished},
	}
}

func TestWriterGolden(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range oneOfEach() {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "results.golden.csv")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("result file differs from %s (run go test -update):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	if first, _, _ := strings.Cut(buf.String(), "\n"); first != Header {
		t.Errorf("header = %q, want %q", first, Header)
	}
}

func TestWriterHeaderOnce(t *testing.T) {
	for _, tc := range []struct {
		name        string
		writeHeader bool
		want        string
	}{
		{"new file", true, Header + "\n2,8981100000000000001,reset,200,UpdateSuccess,1,123,2024-05-01T10:00:00.250Z\n"},
		{"resumed file", false, "2,8981100000000000001,reset,200,UpdateSuccess,1,123,2024-05-01T10:00:00.250Z\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, tc.writeHeader)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(oneOfEach()[0]); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWriterNeutralisesFormulas(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"equals", "=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"},
		{"plus", "+1+1", "'+1+1"},
		{"minus", "-2+3", "'-2+3"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "' =1"},
		{"after spaces", "  =1", "'  =1"},
		{"after a line break", "\n=1", "' =1"},
		{"plain", "UpdateSuccess", "UpdateSuccess"},
		{"inner equals", "a=b", "a=b"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, false)
			if err != nil {
				t.Fatal(err)
			}
			r := batch.Result{Row: 2, ICCID: tc.in, Outcome: batch.OutcomeInvalid, Message: tc.in}
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
			rec, err := csv.NewReader(&buf).Read()
			if err != nil {
				t.Fatal(err)
			}
			if got := rec[1]; got != tc.want {
				t.Errorf("iccid cell = %q, want %q", got, tc.want)
			}
			if got := rec[4]; got != tc.want {
				t.Errorf("message cell = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWriterMessageOneBoundedLine(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"LF", "a\nb", "a b"},
		{"CRLF", "a\r\nb", "a b"},
		{"CR", "a\rb", "a b"},
		{"long", strings.Repeat("é", 400), strings.Repeat("é", MaxMessageLen-1) + "…"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(batch.Result{Row: 2, ICCID: "89", Outcome: batch.OutcomeFailed, Message: tc.in}); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(buf.String(), "\n"); n != 1 {
				t.Errorf("%d line breaks in %q, want 1", n, buf.String())
			}
			rec, err := csv.NewReader(&buf).Read()
			if err != nil {
				t.Fatal(err)
			}
			if got := rec[4]; got != tc.want {
				t.Errorf("message = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWriterFlushesEachRow reads the file back after one Write, with neither Flush
// nor Close: what a hard kill would leave.
func TestWriterFlushesEachRow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv")
	f, needHeader, err := OpenOutput(path, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, needHeader)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(oneOfEach()[1]); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Header + "\n3,8981100000000000019,failed,404,ICCID not found,1,45,2024-05-01T10:00:00.250Z\n"
	if string(got) != want {
		t.Errorf("file holds %q, want %q", got, want)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterReportsWriteError(t *testing.T) {
	if _, err := NewWriter(failingWriter{}, true); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("NewWriter error = %v, want the disk full error", err)
	}
	w, err := NewWriter(failingWriter{}, false)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Write(oneOfEach()[0])
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "row 2") {
		t.Errorf("Write error = %v, want the disk full error naming row 2", err)
	}
}

func TestOpenOutput(t *testing.T) {
	const earlier = Header + "\n2,8981100000000000001,reset,200,UpdateSuccess,1,123,2024-05-01T10:00:00.250Z\n"
	for _, tc := range []struct {
		name          string
		existing      *string // nil: no file
		force, resume bool
		wantErr       error
		wantHeader    bool
		wantContent   string // after writing "X\n"
	}{
		{name: "new", wantHeader: true, wantContent: "X\n"},
		{name: "exists", existing: ptr(earlier), wantErr: ErrOutputExists},
		{name: "force truncates", existing: ptr(earlier), force: true, wantHeader: true, wantContent: "X\n"},
		{name: "force new", force: true, wantHeader: true, wantContent: "X\n"},
		{name: "resume appends", existing: ptr(earlier), resume: true, wantContent: earlier + "X\n"},
		{name: "resume repairs a cut line", existing: ptr(earlier + "3,89811000000000000"), resume: true, wantContent: earlier + "X\n"},
		{name: "resume cut header", existing: ptr("row,iccid,out"), resume: true, wantHeader: true, wantContent: "X\n"},
		{name: "resume empty", existing: ptr(""), resume: true, wantHeader: true, wantContent: "X\n"},
		{name: "resume new", resume: true, wantHeader: true, wantContent: "X\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.csv")
			if tc.existing != nil {
				if err := os.WriteFile(path, []byte(*tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			f, needHeader, err := OpenOutput(path, tc.force, tc.resume)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				for _, s := range []string{path, "--force", "--resume"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if needHeader != tc.wantHeader {
				t.Errorf("needHeader = %v, want %v", needHeader, tc.wantHeader)
			}
			if _, err := f.WriteString("X\n"); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.wantContent {
				t.Errorf("file holds %q, want %q", got, tc.wantContent)
			}
		})
	}
}

func TestOpenOutputCreatesMode0640(t *testing.T) {
	for _, tc := range []struct {
		name          string
		force, resume bool
	}{{"plain", false, false}, {"force", true, false}, {"resume", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.csv")
			f, _, err := OpenOutput(path, tc.force, tc.resume)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != 0o640 {
				t.Errorf("mode = %o, want 640", got)
			}
		})
	}
}

func TestOpenOutputStdout(t *testing.T) {
	f, needHeader, err := OpenOutput("-", false, false)
	if err != nil || f != os.Stdout || !needHeader {
		t.Errorf("OpenOutput(-) = %v, %v, %v; want stdout, true, nil", f, needHeader, err)
	}
	if _, _, err := OpenOutput("-", false, true); err == nil {
		t.Error("OpenOutput(-, resume) succeeded, want an error")
	}
	if _, _, err := OpenOutput(filepath.Join(t.TempDir(), "x"), true, true); err == nil {
		t.Error("OpenOutput(force and resume) succeeded, want an error")
	}
}

func ptr[T any](v T) *T { return &v }
