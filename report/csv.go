// Package report writes what leaves a run: the result CSV (flushed row by row), the
// set of SIMs an earlier run already reset (for --resume), the lock beside the result
// file, the progress display, the end-of-run summary and the Prometheus textfile.
//
// It reads batch.Result values; package batch never imports report.
package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gocarina/gocsv"

	"github.com/simreset/simreset/batch"
)

// Header is the first line of every result file, exactly as SPEC.md section 5 gives it.
const Header = "row,iccid,outcome,status_code,message,attempts,duration_ms,finished_at"

// The bounds on free-text cells keep one odd API answer or a binary input cell from
// turning a result line into megabytes.
const (
	// MaxMessageLen is the longest message cell written, in characters.
	MaxMessageLen = 300
	// MaxICCIDLen is the longest iccid cell written, in characters (an invalid
	// record's raw cell can be anything).
	MaxICCIDLen = 64
)

// finishedAtLayout is RFC 3339 in UTC with milliseconds, e.g. 2024-05-01T12:00:00.250Z.
const finishedAtLayout = "2006-01-02T15:04:05.000Z07:00"

// ErrOutputExists is returned (wrapped, with the path) by OpenOutput when the result
// file already exists and neither force nor resume was asked for.
var ErrOutputExists = errors.New("report: result file exists")

// OpenOutput opens the result file for writing.
//
// The path "-" is standard output: no resume is possible there (an error), force is
// meaningless, and needHeader is true. Otherwise:
//   - without force or resume, the file must not exist: an existing file is an
//     error wrapping ErrOutputExists that names the path and suggests --force or
//     --resume;
//   - force truncates an existing file;
//   - resume appends to it, after cutting back to its last '\n' a final line that a
//     hard kill left unfinished.
//
// force and resume together are an error. New files are created with mode 0640: a
// result file names a fleet's SIMs and is nobody else's business. needHeader is true
// when the file is new or empty, so the caller passes it to NewWriter. Callers should
// hold the lock (AcquireLock) first, so that force and resume never touch a file
// another run is writing. The caller closes f (unless it is os.Stdout).
func OpenOutput(path string, force, resume bool) (f *os.File, needHeader bool, err error) {
	if force && resume {
		return nil, false, fmt.Errorf("report: %s: --force and --resume exclude each other", path)
	}
	if path == "-" {
		if resume {
			return nil, false, errors.New("report: cannot resume into standard output: give --out a file")
		}
		return os.Stdout, true, nil
	}
	switch {
	case resume:
		return openResume(path)
	case force:
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	default:
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if errors.Is(err, os.ErrExist) {
			return nil, false, fmt.Errorf("%w: %s (use --force to overwrite it or --resume to continue it)", ErrOutputExists, path)
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("report: open result file: %w", err)
	}
	return f, true, nil
}

// openResume opens path for appending, repairing a last line cut by a hard kill.
func openResume(path string) (*os.File, bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, false, fmt.Errorf("report: open result file: %w", err)
	}
	end, err := completeLength(f)
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("report: %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("report: %w", err)
	}
	if end < st.Size() {
		// The row in flight when the process died is lost either way; cutting it
		// keeps the file a valid CSV so the next row starts on its own line.
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("report: repair the cut last line of %s: %w", path, err)
		}
	}
	return f, end == 0, nil
}

// completeLength returns the length of the part of f that ends with its last '\n':
// what is left once an unfinished last line is cut off. It reads backwards from the
// end, so its cost does not grow with the file. It leaves the offset unspecified.
func completeLength(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 32*1024)
	for end := st.Size(); end > 0; {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] == '\n' {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// csvRow is one result line as gocsv marshals it; the tags are the Header's names,
// in its order.
type csvRow struct {
	Row        int    `csv:"row"`
	ICCID      string `csv:"iccid"`
	Outcome    string `csv:"outcome"`
	StatusCode string `csv:"status_code"`
	Message    string `csv:"message"`
	Attempts   int    `csv:"attempts"`
	DurationMS int64  `csv:"duration_ms"`
	FinishedAt string `csv:"finished_at"`
}

// Writer writes result lines. Every Write is flushed to the underlying writer before
// it returns, so a crash loses only the rows not yet handed to Write. A Writer is
// meant for one goroutine (the one draining the pool's results); it is not safe for
// concurrent use.
type Writer struct {
	csv *gocsv.SafeCSVWriter
	buf [1]csvRow // reused so that a Write allocates no slice
}

// NewWriter returns a Writer on w and, when writeHeader is true, writes and flushes
// the Header line at once (so even a run that ends before its first result leaves a
// valid file).
func NewWriter(w io.Writer, writeHeader bool) (*Writer, error) {
	rw := &Writer{csv: gocsv.NewSafeCSVWriter(csv.NewWriter(w))}
	if writeHeader {
		if err := gocsv.MarshalCSV([]csvRow{}, rw.csv); err != nil {
			return nil, fmt.Errorf("report: write result header: %w", err)
		}
	}
	return rw, nil
}

// Write writes r as one line and flushes it; the error is the write's or the flush's.
func (w *Writer) Write(r batch.Result) error {
	w.buf[0] = rowOf(r)
	if err := gocsv.MarshalCSVWithoutHeaders(w.buf[:], w.csv); err != nil {
		return fmt.Errorf("report: write result for row %d (%s): %w", r.Row, w.buf[0].ICCID, err)
	}
	return nil
}

// Flush writes out anything buffered and reports the first write error seen. Write
// already flushes; Flush is for symmetry with other writers at the end of a run.
func (w *Writer) Flush() error {
	w.csv.Flush()
	if err := w.csv.Error(); err != nil {
		return fmt.Errorf("report: flush results: %w", err)
	}
	return nil
}

// rowOf turns a Result into its cells.
func rowOf(r batch.Result) csvRow {
	row := csvRow{
		Row:        r.Row,
		ICCID:      safeCell(r.ICCID, MaxICCIDLen),
		Outcome:    safeCell(string(r.Outcome), MaxICCIDLen),
		Message:    safeCell(r.Message, MaxMessageLen),
		Attempts:   r.Attempts,
		DurationMS: r.Duration.Milliseconds(),
	}
	if r.StatusCode != 0 {
		row.StatusCode = strconv.Itoa(r.StatusCode)
	}
	if !r.FinishedAt.IsZero() {
		row.FinishedAt = r.FinishedAt.UTC().Format(finishedAtLayout)
	}
	return row
}

// safeCell makes s a one-line, valid UTF-8 cell of at most limit characters that a
// spreadsheet will not run as a formula.
//
// Line breaks become spaces so that every result is one physical line: that is what
// lets OpenOutput repair a cut file by cutting back to the last '\n'. A cell starting
// with = + - @ (also after leading spaces, which some spreadsheets skip), a tab or a
// CR gets a leading apostrophe, the OWASP advice against CSV injection.
func safeCell(s string, limit int) string {
	if s == "" {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	// Neutralise before the line-break rewrite so that a leading CR is still seen.
	neutral := needsQuote(s)
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
	}
	neutral = neutral || needsQuote(s)
	if utf8.RuneCountInString(s) > limit {
		s = truncateRunes(s, limit-1) + "…"
	}
	if neutral {
		s = "'" + s
	}
	return s
}

// needsQuote tells whether a spreadsheet could take s for a formula.
func needsQuote(s string) bool {
	switch s[0] {
	case '\t', '\r':
		return true
	}
	t := strings.TrimLeft(s, " ")
	return t != "" && strings.ContainsRune("=+-@", rune(t[0]))
}

// truncateRunes returns the first n characters of s.
func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
