package batch

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// ReaderOptions configure reading one fleet file.
type ReaderOptions struct {
	Name   string       // the file's name, used in every message about it ("-" shows as "standard input")
	Column string       // --column: a header name (matched like auto-detection) or a 1-based position; "" = auto
	Strict bool         // a failed Luhn check makes the row invalid instead of a warning
	Logger *slog.Logger // notices (skipped preamble lines, detected delimiter/encoding, chosen column); nil = discard

	// damageRow is the first row where OpenInput's survey of the whole column
	// saw spreadsheet damage (0: none), so that a value cut to 15 digits is
	// judged the same on every row, including rows above the damage.
	damageRow int
	// survey makes the Reader judge records without remembering the ICCIDs
	// seen: OpenInput's first pass only counts.
	survey bool
	// sizeHint is the number of records, when known, to size the set of
	// ICCIDs seen once.
	sizeHint int
}

// ErrUnusableInput is wrapped by every error that means the file cannot be used at all
// (no ICCID column, several candidate columns, binary data, empty or header only, unreadable).
// main maps it to exit status 2. The message names the file and says what was expected
// (e.g. lists the headers seen and suggests --column).
var ErrUnusableInput = errors.New("input: file cannot be used")

// unusableError names the file first, so the message reads well on its own,
// and still matches ErrUnusableInput and the underlying cause with errors.Is.
type unusableError struct {
	name  string
	msg   string
	cause error
}

func (e *unusableError) Error() string {
	if e.cause != nil {
		return e.name + ": " + e.msg + ": " + e.cause.Error()
	}
	return e.name + ": " + e.msg
}

func (e *unusableError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrUnusableInput, e.cause}
	}
	return []error{ErrUnusableInput}
}

func unusable(name string, cause error, format string, args ...any) error {
	return &unusableError{name: name, msg: fmt.Sprintf(format, args...), cause: cause}
}

const (
	sniffSize    = 1 << 20 // decoded bytes looked at before the first record is yielded
	headerSearch = 20      // opening records searched for the header
	sampleRows   = 20      // data records looked at to find the column by its content
	sampleLimit  = headerSearch + sampleRows + 8
)

// Input is a fleet file opened for a run. OpenInput reads it once in full (streaming, constant memory)
// to find the header and the ICCID column, count the records and detect spreadsheet damage
// in the column (so that 15-digit truncation can be judged for the whole column before any
// request); Next then streams it a second time. path "-" reads stdin, which, like any
// file that is not a regular file (a named pipe, a shell's <(...) process substitution,
// /dev/stdin, a device), is first copied to a temporary file (removed by Close) so that
// it can be read twice. The caller should call Close when finished.
type Input struct {
	f          *os.File
	tmp        string // the copy of standard input or of a pipe, removed by Close
	r          *Reader
	total      int
	luhnFailed int // rows whose ICCID fails the Luhn check, counted by the survey
}

// OpenInput opens path ("-": stdin) and surveys it; see Input. Every error
// means the file cannot be used and wraps ErrUnusableInput.
func OpenInput(path string, stdin io.Reader, opts ReaderOptions) (*Input, error) {
	if opts.Name == "" {
		opts.Name = path
	}
	name := displayName(opts.Name)
	in := &Input{}
	if path == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		if err := in.copyOf(name, stdin); err != nil {
			return nil, err
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, unusable(name, err, "cannot open it")
		}
		st, err := f.Stat()
		switch {
		case err != nil:
			f.Close()
			return nil, unusable(name, err, "cannot read it")
		case st.IsDir():
			f.Close()
			return nil, unusable(name, nil, "is a directory, not a CSV file")
		case !st.Mode().IsRegular():
			// A pipe cannot seek back for the second pass.
			err := in.copyOf(name, f)
			f.Close()
			if err != nil {
				return nil, err
			}
		default:
			in.f = f
		}
	}
	if err := in.survey(name, opts); err != nil {
		in.Close()
		return nil, err
	}
	return in, nil
}

// copyOf copies r to a temporary file, removed by Close, to be read from.
// It stops early on data that is binary from its first bytes.
func (in *Input) copyOf(name string, r io.Reader) error {
	f, err := os.CreateTemp("", "simreset-input-*.csv")
	if err != nil {
		return unusable(name, err, "cannot keep a copy of it to read twice")
	}
	in.f, in.tmp = f, f.Name()
	start, _, err := readHead(r, 4096)
	if err == nil {
		if kind := binaryStart(start); kind != "" {
			in.Close()
			return unusable(name, nil, "is %s, not a CSV text file; save the sheet as CSV (UTF-8) and try again", kind)
		}
		_, err = f.Write(start)
	}
	if err == nil {
		_, err = io.Copy(f, r)
	}
	if err != nil {
		in.Close()
		return unusable(name, err, "cannot read it")
	}
	return nil
}

// survey makes the first pass: it counts the records and finds the first
// spreadsheet damage in the column, then opens the Reader for the second pass.
func (in *Input) survey(name string, opts ReaderOptions) error {
	if _, err := in.f.Seek(0, io.SeekStart); err != nil {
		return unusable(name, err, "cannot read it")
	}
	first := opts
	first.survey = true
	sr, err := NewReader(in.f, first)
	if err != nil {
		return err
	}
	for {
		_, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return unusable(name, errors.Unwrap(err), "cannot read row %d", sr.row+1)
		}
		in.total++
	}
	if in.total == 0 {
		return unusable(name, nil, "has no SIM rows below the header (%s); expected one ICCID per row", sr.Column())
	}
	switch {
	case sr.damageRow > 0 && sr.cut > 0:
		logger(opts).Warn("the ICCID column shows spreadsheet damage: the damaged values and those ending in zeros after the 15th digit will be reported invalid; re-export the ICCID column as text",
			"file", name, "first_damaged_row", sr.damageRow, "cut_values", sr.cut)
	case sr.damageRow > 0:
		logger(opts).Warn("the ICCID column shows spreadsheet damage: the damaged values will be reported invalid; re-export the ICCID column as text",
			"file", name, "first_damaged_row", sr.damageRow)
	}
	if in.luhnFailed = sr.luhnFailed; in.luhnFailed > 0 {
		fate := "sent anyway; --strict makes them invalid"
		if opts.Strict {
			fate = "reported invalid (--strict)"
		}
		logger(opts).Warn("ICCIDs fail the Luhn check digit: "+fate, "file", name, "rows", in.luhnFailed, "first_row", sr.luhnFirstRow)
	}
	if _, err := in.f.Seek(0, io.SeekStart); err != nil {
		return unusable(name, err, "cannot read it again")
	}
	second := opts
	second.damageRow = sr.damageRow
	second.sizeHint = in.total
	second.Logger = nil // the first pass already said everything worth saying
	in.r, err = NewReader(in.f, second)
	return err
}

// LuhnFailures returns how many rows hold an ICCID whose Luhn check digit does
// not match (sent with a warning, or invalid with Strict).
func (in *Input) LuhnFailures() int { return in.luhnFailed }

// Total returns the number of non-blank records after the header: what Next will yield.
func (in *Input) Total() int { return in.total }

// Next returns the next non-blank record; io.EOF at the end. Any other error
// is fatal (I/O) and names the file and row.
func (in *Input) Next() (Record, error) { return in.r.Next() }

// Column describes the ICCID column for the start-of-run log line, e.g. `"SIM ICCID" (column 2)`.
func (in *Input) Column() string { return in.r.Column() }

// Close closes the file and removes the copy of standard input or of a pipe, if any.
func (in *Input) Close() error {
	var errs []error
	if in.f != nil {
		errs = append(errs, in.f.Close())
		in.f = nil
	}
	if in.tmp != "" {
		errs = append(errs, os.Remove(in.tmp))
		in.tmp = ""
	}
	return errors.Join(errs...)
}

// Reader streams the records of one fleet file in a single pass. It decodes
// the text (UTF-8 with or without BOM, UTF-16, legacy bytes left alone),
// finds the header and the ICCID column from the opening part of the file,
// then yields one Record per non-blank row, normalised, validated, and marked
// as a duplicate when its ICCID was seen on an earlier row. A quote that opens
// a cell but is never properly closed is read as text (see quoteFixer), so it
// cannot swallow the rows below it; in the ICCID cell it makes the row invalid.
// Memory grows only with the set of distinct ICCIDs. A Reader is not safe for
// concurrent use.
type Reader struct {
	name   string
	cr     *csv.Reader
	col    int
	label  string
	strict bool
	// damageRow is the first row known to show spreadsheet damage (0: none).
	damageRow int
	cut       int // values seen ending in zeros after the 15th digit

	luhnFailed   int // rows whose ICCID fails the Luhn check
	luhnFirstRow int // the first of them
	// lineOffset counts the physical lines consumed before the CSV parser
	// (Excel's sep= line), which are not spreadsheet rows.
	lineOffset int
	row        int // spreadsheet row of the last record read
	endLine    int // parser line where the last record read ended
	seen       *ICCIDTable
	quotes     *quoteFixer
	// strayICCID tells that the last record read had a stray quote
	// dropped at the start of its ICCID cell.
	strayICCID bool
}

// NewReader detects the encoding, line endings, delimiter, header and ICCID
// column of r from its first megabyte, and returns a Reader positioned at the
// first data record. An error means the input cannot be used and wraps
// ErrUnusableInput.
func NewReader(r io.Reader, opts ReaderOptions) (*Reader, error) {
	name := displayName(opts.Name)
	log := logger(opts).With("file", name)
	text, err := openText(r, name, log)
	if err != nil {
		return nil, err
	}
	lay, err := detectLayout(name, text.head, text.atEOF, text.delim, opts.Column)
	if err != nil {
		return nil, err
	}
	rd := &Reader{
		name:       name,
		col:        lay.col,
		label:      lay.label,
		strict:     opts.Strict,
		damageRow:  opts.damageRow,
		lineOffset: text.lineOffset,
	}
	if !opts.survey {
		rd.seen = NewICCIDTable(opts.sizeHint)
	}
	rd.quotes = newQuoteFixer(text.br, lay.delim, true)
	rd.quotes.keep = true
	rd.quotes.log = log
	rd.quotes.lineOffset = text.lineOffset
	cr := csv.NewReader(bufio.NewReaderSize(rd.quotes, 64<<10))
	cr.Comma = lay.delim
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true // an unquoted ="..." keeps its quotes instead of failing the record
	cr.ReuseRecord = true
	rd.cr = cr
	for i := 0; i <= lay.header; i++ {
		if _, _, _, err := rd.read(); err != nil {
			return nil, unusable(name, err, "cannot read the header")
		}
	}
	if rd.damageRow == 0 {
		rd.damageRow = lay.damageRow
	}
	log.Debug("input format", "encoding", text.encoding, "line_endings", text.eol,
		"delimiter", delimName(lay.delim), "header_row", lay.headerRow, "column", lay.label)
	if lay.preamble > 0 {
		log.Info("skipped lines above the header", "lines", lay.preamble, "header_row", lay.headerRow,
			"first_skipped", lay.firstSkipped)
	}
	switch lay.how {
	case howContent:
		log.Info("no column is named ICCID; using the one whose values are ICCIDs (override with --column)", "column", lay.label)
	case howLoose:
		log.Info("using the only column whose name mentions ICCID (override with --column)", "column", lay.label)
	case howHeaderless:
		log.Info("the first row already holds an ICCID: reading the file as having no header", "column", lay.label)
	}
	return rd, nil
}

// Column describes the ICCID column, e.g. `"SIM ICCID" (column 2)`.
func (r *Reader) Column() string { return r.label }

// Next returns the next non-blank record; io.EOF at the end. Blank rows,
// whitespace-only rows and rows of empty cells are skipped (they still count
// as rows). Any other error is fatal (I/O) and names the file and row.
func (r *Reader) Next() (Record, error) {
	for {
		fields, line, row, err := r.read()
		if err == io.EOF {
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, fmt.Errorf("%s: reading row %d: %w", r.name, r.row+1, err)
		}
		if blankRecord(fields) {
			continue
		}
		return r.judge(fields, line, row), nil
	}
}

// read returns the next CSV record with its physical line and spreadsheet row.
// encoding/csv skips empty lines, so the row advances by the lines between
// the end of the previous record and the start of this one; a quoted cell
// spanning lines keeps the record one row.
func (r *Reader) read() (fields []string, line, row int, err error) {
	fields, err = r.cr.Read()
	if err != nil {
		return nil, 0, 0, err
	}
	start, _ := r.cr.FieldPos(0)
	last, _ := r.cr.FieldPos(len(fields) - 1)
	row = r.row + (start - r.endLine - 1) + 1
	r.row = row
	r.endLine = last + strings.Count(fields[len(fields)-1], "\n")
	r.strayICCID = r.quotes.strayIn(r.endLine, r.col)
	return fields, start + r.lineOffset, row, nil
}

// judge turns one non-blank record into a Record: normalised, validated,
// checked for spreadsheet damage and Luhn, and for repeats.
func (r *Reader) judge(fields []string, line, row int) Record {
	rec := Record{Row: row, Line: line}
	if r.col >= len(fields) {
		rec.Outcome = OutcomeInvalid
		rec.Message = fmt.Sprintf("no ICCID cell: the row has %d %s, the ICCID is in column %d",
			len(fields), plural(len(fields), "cell", "cells"), r.col+1)
		return rec
	}
	rec.Raw = strings.Clone(fields[r.col]) // the parser's buffer holds the whole line
	switch {
	case r.strayICCID:
		// The cell was opened by a quote that never closed: the row may
		// have lost or gained cells, so its value is not trusted.
		rec.Raw = `"` + rec.Raw
		rec.Outcome = OutcomeInvalid
		rec.Message = quoteCell(strings.TrimFunc(rec.Raw, isTrimmable)) + ": the ICCID cell opens a quote that is not closed on its line; fix the quotes on this row"
		return rec
	case strings.IndexByte(rec.Raw, 0) >= 0:
		// NormalizeICCID trims control bytes at the ends of a cell, but a
		// NUL is a sign of a damaged file, not of a stray export byte.
		rec.Outcome = OutcomeInvalid
		rec.Message = quoteCell(rec.Raw) + ": the ICCID cell holds a NUL byte, a sign of a damaged file; check this row"
		return rec
	}
	iccid := NormalizeICCID(rec.Raw)
	if kind := damageKind(iccid); kind != "" {
		if r.damageRow == 0 {
			r.damageRow = row
		}
		rec.Outcome = OutcomeInvalid
		switch kind {
		case "scientific":
			rec.Message = iccid + " is in scientific notation: a spreadsheet lost its digits; re-export the ICCID column as text"
		case "grouped":
			rec.Message = iccid + " has thousands separators: a spreadsheet formatted it as a number and may have lost digits; re-export the ICCID column as text"
		default:
			rec.Message = iccid + " has a decimal part: it went through a number format and may have lost digits; re-export the ICCID column as text"
		}
		return rec
	}
	if err := ValidateICCID(iccid); err != nil {
		rec.Outcome = OutcomeInvalid
		if errors.Is(err, errICCIDEmpty) {
			rec.Message = err.Error()
		} else {
			rec.Message = quoteCell(strings.TrimFunc(rec.Raw, isTrimmable)) + ": " + err.Error()
		}
		return rec
	}
	luhn := LuhnValid(iccid)
	checked := isPlainICCID(iccid) // a hex ICCID has no Luhn digit to check
	if cutTo15(iccid) {
		r.cut++
	}
	if cutTo15(iccid) && (!luhn || r.damageRow > 0) {
		rec.Outcome = OutcomeInvalid
		why := "fails the Luhn check"
		if r.damageRow > 0 {
			why = fmt.Sprintf("the ICCID column shows other spreadsheet damage (row %d)", r.damageRow)
		}
		rec.Message = fmt.Sprintf("%s ends in zeros after the 15th digit and %s: a spreadsheet probably cut it to 15 significant digits; re-export the ICCID column as text", iccid, why)
		return rec
	}
	if checked && !luhn {
		if r.luhnFailed++; r.luhnFailed == 1 {
			r.luhnFirstRow = row
		}
		if r.strict {
			rec.Outcome = OutcomeInvalid
			rec.Message = "Luhn check digit does not match (invalid with --strict)"
			return rec
		}
		rec.Message = "Luhn check digit does not match (sent anyway)"
	}
	rec.ICCID = iccid
	if r.seen != nil {
		if first := r.seen.FirstRow(KeyOf(iccid), int32(min(row, 1<<31-1))); first != 0 {
			rec.Outcome = OutcomeDuplicate
			rec.Message = "repeat of row " + strconv.Itoa(int(first))
			return rec
		}
	}
	return rec
}

func blankRecord(fields []string) bool {
	for _, f := range fields {
		if strings.TrimFunc(f, isTrimmable) != "" {
			return false
		}
	}
	return true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func displayName(name string) string {
	switch name {
	case "-":
		return "standard input"
	case "":
		return "input"
	}
	return name
}

func logger(opts ReaderOptions) *slog.Logger {
	if opts.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return opts.Logger
}
