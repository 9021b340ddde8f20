package batch

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	textunicode "golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
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
// request); Next then streams it a second time. path "-" reads stdin, which is first copied
// to a temporary file (removed by Close) so that it can be read twice.
// The caller should call Close when finished.
type Input struct {
	f     *os.File
	tmp   string // the copy of standard input, removed by Close
	r     *Reader
	total int
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
		f, err := os.CreateTemp("", "simreset-stdin-*.csv")
		if err != nil {
			return nil, unusable(name, err, "cannot keep a copy of it to read twice")
		}
		in.f, in.tmp = f, f.Name()
		if stdin == nil {
			stdin = os.Stdin
		}
		if _, err := io.Copy(f, stdin); err != nil {
			in.Close()
			return nil, unusable(name, err, "cannot read it")
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, unusable(name, err, "cannot open it")
		}
		in.f = f
		if st, err := f.Stat(); err == nil && st.IsDir() {
			in.Close()
			return nil, unusable(name, nil, "is a directory, not a CSV file")
		}
	}
	if err := in.survey(name, opts); err != nil {
		in.Close()
		return nil, err
	}
	return in, nil
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

// Total returns the number of non-blank records after the header: what Next will yield.
func (in *Input) Total() int { return in.total }

// Next returns the next non-blank record; io.EOF at the end. Any other error
// is fatal (I/O) and names the file and row.
func (in *Input) Next() (Record, error) { return in.r.Next() }

// Column describes the ICCID column for the start-of-run log line, e.g. `"SIM ICCID" (column 2)`.
func (in *Input) Column() string { return in.r.Column() }

// Close closes the file and removes the copy of standard input, if any.
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
// as a duplicate when its ICCID was seen on an earlier row. Memory grows only
// with the set of distinct ICCIDs. A Reader is not safe for concurrent use.
type Reader struct {
	name   string
	cr     *csv.Reader
	col    int
	label  string
	strict bool
	// damageRow is the first row known to show spreadsheet damage (0: none).
	damageRow int
	cut       int // values seen ending in zeros after the 15th digit
	// lineOffset counts the physical lines consumed before the CSV parser
	// (Excel's sep= line), which are not spreadsheet rows.
	lineOffset int
	row        int // spreadsheet row of the last record read
	endLine    int // parser line where the last record read ended
	seen       *seenSet
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
		rd.seen = newSeenSet(opts.sizeHint)
	}
	cr := csv.NewReader(text.br)
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
		if r.strict {
			rec.Outcome = OutcomeInvalid
			rec.Message = "Luhn check digit does not match (invalid with --strict)"
			return rec
		}
		rec.Message = "Luhn check digit does not match (sent anyway)"
	}
	rec.ICCID = iccid
	if r.seen != nil {
		if first := r.seen.firstRow(KeyOf(iccid), int32(min(row, 1<<31-1))); first != 0 {
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

func delimName(d rune) string {
	switch d {
	case ',':
		return "comma"
	case ';':
		return "semicolon"
	case '\t':
		return "tab"
	}
	return strconv.QuoteRune(d)
}

// text is the decoded input, ready for the CSV parser, with its first part
// (head) available for detection.
type text struct {
	br         *bufio.Reader // head then rest, for the parser
	head       []byte
	rest       io.Reader // what follows head
	atEOF      bool      // head is the whole input
	encoding   string
	eol        string
	delim      rune // from Excel's sep= line; 0 when absent
	lineOffset int
}

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// openText decodes r to UTF-8 (or leaves legacy single-byte text alone),
// turns lone CR line endings into LF, consumes a sep= line, and rejects
// binary data. Buffers grow with the input up to sniffSize, so that a small
// input costs little.
func openText(r io.Reader, name string, log *slog.Logger) (*text, error) {
	start, _, err := readHead(r, 4096)
	if err != nil {
		return nil, unusable(name, err, "cannot read it")
	}
	if kind := binaryKind(start); kind != "" {
		return nil, unusable(name, nil, "is %s, not a CSV text file; save the sheet as CSV (UTF-8) and try again", kind)
	}
	t := &text{encoding: "UTF-8"}
	var utf16 transform.Transformer
	switch {
	case bytes.HasPrefix(start, bomUTF8):
		start = start[len(bomUTF8):]
		t.encoding = "UTF-8 with BOM"
	case bytes.HasPrefix(start, bomUTF16LE):
		utf16 = textunicode.UTF16(textunicode.LittleEndian, textunicode.UseBOM).NewDecoder()
		t.encoding = "UTF-16LE"
	case bytes.HasPrefix(start, bomUTF16BE):
		utf16 = textunicode.UTF16(textunicode.BigEndian, textunicode.UseBOM).NewDecoder()
		t.encoding = "UTF-16BE"
	default:
		if e, ok := guessUTF16(start); ok {
			utf16 = textunicode.UTF16(e, textunicode.IgnoreBOM).NewDecoder()
			t.encoding = "UTF-16BE without BOM"
			if e == textunicode.LittleEndian {
				t.encoding = "UTF-16LE without BOM"
			}
		}
	}
	var dec io.Reader = io.MultiReader(bytes.NewReader(start), r)
	if utf16 != nil {
		dec = transform.NewReader(dec, utf16)
		log.Info("decoding the file as UTF-16", "encoding", t.encoding)
	}
	if err := t.readHead(name, dec); err != nil {
		return nil, err
	}
	t.eol = "LF"
	switch {
	case bytes.IndexByte(t.head, '\r') >= 0 && bytes.IndexByte(t.head, '\n') < 0:
		// Classic Mac OS and old Excel for Mac end lines with CR alone, which
		// encoding/csv does not see as a line end.
		if err := t.readHead(name, transform.NewReader(t.stream(), crToLF{})); err != nil {
			return nil, err
		}
		t.eol = "CR"
		log.Info("the file ends lines with CR alone (old Mac format); reading CR as a line end")
	case bytes.Contains(t.head, []byte("\r\n")):
		t.eol = "CRLF"
	}
	if d, n, ok := sepLine(t.head, t.atEOF); ok {
		t.head = t.head[n:]
		t.delim, t.lineOffset = d, 1
		log.Info("the first line sets the delimiter (Excel sep= line)", "delimiter", delimName(d))
	}
	if bytes.IndexByte(t.head, 0) >= 0 || controlShare(t.head) {
		return nil, unusable(name, nil, "looks like binary data, not CSV text (control bytes in the first %d bytes); expected a CSV export with an ICCID column", min(len(t.head), 8192))
	}
	if len(t.head) == 0 && t.atEOF && t.lineOffset == 0 {
		return nil, unusable(name, nil, "is empty; expected a CSV export with an ICCID column")
	}
	t.br = bufio.NewReaderSize(t.stream(), 64<<10)
	return t, nil
}

// readHead reads the first sniffSize bytes of r as the head, r being the rest.
func (t *text) readHead(name string, r io.Reader) error {
	head, atEOF, err := readHead(r, sniffSize)
	if err != nil {
		return unusable(name, err, "cannot read it")
	}
	t.head, t.atEOF, t.rest = head, atEOF, r
	return nil
}

// stream returns the whole text again: the head, then the rest.
func (t *text) stream() io.Reader {
	return io.MultiReader(bytes.NewReader(t.head), t.rest)
}

// readHead reads up to limit bytes, growing its buffer as they come; atEOF
// tells that r has nothing more.
func readHead(r io.Reader, limit int) (head []byte, atEOF bool, err error) {
	buf := make([]byte, 0, min(limit, 4096))
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), limit-len(buf)))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
	return buf, false, nil
}

// binaryKind recognises the files an operator may pass by mistake.
func binaryKind(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return "a ZIP archive (an Excel .xlsx workbook?)"
	case bytes.HasPrefix(b, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		return "an old Excel .xls workbook"
	case bytes.HasPrefix(b, []byte{0x1F, 0x8B}):
		return "gzip-compressed"
	case bytes.HasPrefix(b, []byte("%PDF")):
		return "a PDF document"
	}
	return ""
}

// guessUTF16 recognises UTF-16 text without a BOM by its zero bytes: ASCII
// text in UTF-16LE has a zero in every second byte.
func guessUTF16(b []byte) (textunicode.Endianness, bool) {
	n := len(b) &^ 1
	if n < 8 {
		return textunicode.BigEndian, false
	}
	even, odd := 0, 0
	for i := 0; i < n; i += 2 {
		if b[i] == 0 {
			even++
		}
		if b[i+1] == 0 {
			odd++
		}
	}
	pairs := n / 2
	switch {
	case even == 0 && odd*10 >= pairs*7:
		return textunicode.LittleEndian, true
	case odd == 0 && even*10 >= pairs*7:
		return textunicode.BigEndian, true
	}
	return textunicode.BigEndian, false
}

// controlShare reports a share of control bytes that no text export has.
// Bytes >= 0x80 are not counted: legacy encodings (Windows-1252, Mac Roman)
// use them for letters.
func controlShare(b []byte) bool {
	b = b[:min(len(b), 8192)]
	ctrl := 0
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1A) || c == 0x7F {
			ctrl++
		}
	}
	return ctrl > 0 && ctrl*20 > len(b)
}

// sepLine recognises Excel's "sep=;" first line; it returns the delimiter and
// the number of bytes to discard.
func sepLine(head []byte, atEOF bool) (rune, int, bool) {
	end := bytes.IndexByte(head, '\n')
	n := end + 1
	if end < 0 {
		if !atEOF {
			return 0, 0, false
		}
		end, n = len(head), len(head)
	}
	// Not TrimSpace: the delimiter itself may be a tab.
	line := strings.TrimLeft(strings.TrimSuffix(string(head[:end]), "\r"), ` "`)
	if len(line) < 5 || !strings.EqualFold(line[:4], "sep=") {
		return 0, 0, false
	}
	d, size := utf8.DecodeRuneInString(line[4:])
	rest := strings.Trim(line[4+size:], string(d)+` "`)
	if d == 0 || d == ' ' || d == utf8.RuneError || d == '"' || d == '\r' || d == '\n' || rest != "" {
		return 0, 0, false
	}
	return d, n, true
}

// crToLF translates CR and CRLF line ends to LF.
type crToLF struct{ transform.NopResetter }

func (crToLF) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		if nDst >= len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		c := src[nSrc]
		if c == '\r' {
			if nSrc+1 == len(src) && !atEOF {
				return nDst, nSrc, transform.ErrShortSrc // is it CRLF? wait for the next byte
			}
			nSrc++
			if nSrc < len(src) && src[nSrc] == '\n' {
				nSrc++
			}
			c = '\n'
		} else {
			nSrc++
		}
		dst[nDst] = c
		nDst++
	}
	return nDst, nSrc, nil
}

// How the ICCID column was found.
const (
	howName       = "name"
	howLoose      = "loose name"
	howContent    = "content"
	howHeaderless = "no header"
	howOption     = "--column"
)

// layout is where the data is: delimiter, header record, ICCID column.
type layout struct {
	delim        rune
	header       int // index of the header among the parser's records; -1: no header
	headerRow    int
	col          int
	label        string
	how          string
	preamble     int    // non-blank records above the header
	firstSkipped string // the first of them, for the log
	damageRow    int    // first sampled row with spreadsheet damage in the column
}

// sampleRec is one record of the head, parsed as the Reader will parse it.
type sampleRec struct {
	fields []string
	line   int
	row    int
	blank  bool
}

// sample is the head parsed with one delimiter.
type sample struct {
	delim rune
	recs  []sampleRec
}

func parseSample(head []byte, atEOF bool, delim rune) sample {
	cr := csv.NewReader(bytes.NewReader(head))
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	s := sample{delim: delim}
	row, endLine := 0, 0
	for len(s.recs) <= sampleLimit {
		rec, err := cr.Read()
		if err != nil {
			// The last record may be cut by the end of the head.
			if !atEOF && len(s.recs) > 0 {
				s.recs = s.recs[:len(s.recs)-1]
			}
			return s
		}
		start, _ := cr.FieldPos(0)
		last, _ := cr.FieldPos(len(rec) - 1)
		row += start - endLine
		endLine = last + strings.Count(rec[len(rec)-1], "\n")
		s.recs = append(s.recs, sampleRec{fields: rec, line: start, row: row, blank: blankRecord(rec)})
	}
	s.recs = s.recs[:sampleLimit] // the extra record shows the others are complete
	return s
}

// widest is the largest field count among the first non-blank records.
func (s sample) widest() int {
	w := 0
	for _, r := range s.recs[:min(len(s.recs), headerSearch)] {
		if !r.blank {
			w = max(w, len(r.fields))
		}
	}
	return w
}

// consistency counts the non-blank records after hdr whose field count is
// that of hdr (or of the first record when there is no header).
func (s sample) consistency(hdr int) int {
	ref := -1
	if hdr >= 0 && hdr < len(s.recs) {
		ref = len(s.recs[hdr].fields)
	}
	n := 0
	for _, r := range s.recs[max(hdr+1, 0):] {
		if r.blank {
			continue
		}
		if ref < 0 {
			ref = len(r.fields)
		}
		if len(r.fields) == ref {
			n++
		}
	}
	return n
}

// hasData reports a non-blank record after hdr.
func (s sample) hasData(hdr int) bool {
	for _, r := range s.recs[hdr+1:] {
		if !r.blank {
			return true
		}
	}
	return false
}

// firstNonBlank returns the index of the first non-blank record, or -1.
func (s sample) firstNonBlank() int {
	for i, r := range s.recs {
		if !r.blank {
			return i
		}
	}
	return -1
}

// iccidColumns returns the columns of a header record whose names say ICCID,
// and whether every one of them is a common name.
func iccidColumns(fields []string) (cols []int, allCommon bool) {
	allCommon = true
	for i, f := range fields {
		common, loose := iccidName(f)
		if common || loose {
			cols = append(cols, i)
			allCommon = allCommon && common
		}
	}
	return cols, allCommon
}

// iccidName tells whether a header names the ICCID: common names (ICCID,
// SIM ICCID, ICCID number, sim_iccid, ICC-ID, ICCID (SIM)...) compared without
// case, spaces and punctuation, or loosely, any name containing "iccid".
func iccidName(h string) (common, loose bool) {
	k := headerKey(h)
	switch k {
	case "iccid", "iccids", "simiccid", "iccidnumber", "iccidno", "iccidnr", "iccidnum",
		"iccidsim", "simcardiccid", "iccidcode", "simiccidnumber", "iccidsimcard",
		"integratedcircuitcardid", "integratedcircuitcardidentifier",
		"simserial", "simserialnumber", "simserialno":
		return true, false
	case "icc", "iccno", "iccnumber":
		return false, true
	}
	return false, strings.Contains(k, "iccid")
}

// headerKey reduces a header to its lower-case letters and digits: case,
// spaces, NBSP, BOM and punctuation do not count.
func headerKey(h string) string {
	var b strings.Builder
	for _, r := range h {
		if r < utf8.RuneSelf {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				b.WriteRune(r)
			case r >= 'A' && r <= 'Z':
				b.WriteRune(r - 'A' + 'a')
			}
		} else if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteString(strings.ToLower(string(r)))
		}
	}
	return b.String()
}

// validColumns returns the columns of a record that hold a valid ICCID.
func validColumns(fields []string) []int {
	var cols []int
	for i, f := range fields {
		if ValidateICCID(NormalizeICCID(f)) == nil {
			cols = append(cols, i)
		}
	}
	return cols
}

// numberLike reports a cell that holds a number or a damaged one rather than a name.
func numberLike(cell string) bool {
	v := NormalizeICCID(cell)
	return isPlainICCID(v) || damageKind(v) != "" || ValidateICCID(v) == nil
}

// mostlyValid reports whether column col holds ICCIDs in the records from
// first on: at least 80% of its non-empty cells valid or damaged ICCIDs.
func (s sample) mostlyValid(first, col int) bool {
	nonEmpty, good, seen := 0, 0, 0
	for _, r := range s.recs[first:] {
		if r.blank {
			continue
		}
		if seen++; seen > sampleRows {
			break
		}
		if col >= len(r.fields) {
			continue
		}
		v := NormalizeICCID(r.fields[col])
		if v == "" {
			continue
		}
		nonEmpty++
		if ValidateICCID(v) == nil || damageKind(v) != "" {
			good++
		}
	}
	return good > 0 && good*10 >= nonEmpty*8
}

// namedHeader finds the first record, among the opening ones, that names an
// ICCID column. A record holding a valid ICCID before it means the file has
// no such header.
func (s sample) namedHeader() (hdr int, cols []int, common bool) {
	for i, r := range s.recs[:min(len(s.recs), headerSearch)] {
		if r.blank {
			continue
		}
		if len(validColumns(r.fields)) > 0 {
			return -1, nil, false
		}
		if cols, common := iccidColumns(r.fields); len(cols) > 0 {
			return i, cols, common
		}
	}
	return -1, nil, false
}

// contentHeader finds the first record holding a valid ICCID in the given
// column (any column when col < 0), and the header above it: the previous
// non-blank record, unless that one holds a number in the column too.
func (s sample) contentHeader(col int) (first, hdr int) {
	first = -1
	for i, r := range s.recs[:min(len(s.recs), headerSearch+1)] {
		if r.blank {
			continue
		}
		if col < 0 && len(validColumns(r.fields)) > 0 || col >= 0 && col < len(r.fields) && ValidateICCID(NormalizeICCID(r.fields[col])) == nil {
			first = i
			break
		}
	}
	if first < 0 {
		return -1, -1
	}
	hdr = -1
	for i := first - 1; i >= 0; i-- {
		if !s.recs[i].blank {
			hdr = i
			break
		}
	}
	if hdr >= 0 && col >= 0 && col < len(s.recs[hdr].fields) && numberLike(s.recs[hdr].fields[col]) {
		hdr = -1
	}
	return first, hdr
}

// candidate is one delimiter's reading of the head, ranked by better().
type candidate struct {
	s      sample
	found  int // 2: found by its name, 1: found by content, 0: not found
	hdr    int
	cols   []int
	common bool
	first  int
	asked  string // the --column NAME matched, if any
}

func (c candidate) better(o candidate) bool {
	if c.found != o.found {
		return c.found > o.found
	}
	if c.found == 2 && c.common != o.common {
		return c.common // "ICCID" split out beats "ICCID;Label" read as one name
	}
	cw, ow := c.width(), o.width()
	if (cw > 1) != (ow > 1) {
		return cw > 1
	}
	if cc, oc := c.s.consistency(c.hdr), o.s.consistency(o.hdr); cc != oc {
		return cc > oc
	}
	return cw > ow
}

func (c candidate) width() int {
	if c.hdr >= 0 {
		return len(c.s.recs[c.hdr].fields)
	}
	return c.s.widest()
}

// detectLayout finds the delimiter, header and ICCID column in the head.
func detectLayout(name string, head []byte, atEOF bool, sepDelim rune, column string) (layout, error) {
	delims := []rune{',', ';', '\t'}
	if sepDelim != 0 {
		delims = []rune{sepDelim}
	}
	samples := make([]sample, len(delims))
	for i, d := range delims {
		samples[i] = parseSample(head, atEOF, d)
	}
	if samples[0].firstNonBlank() < 0 {
		if atEOF {
			return layout{}, unusable(name, nil, "has only blank lines; expected a CSV export with an ICCID column")
		}
		return layout{}, unusable(name, nil, "has no line break in its first %d bytes; expected a CSV export with an ICCID column", len(head))
	}
	var (
		lay layout
		err error
	)
	switch pos, perr := strconv.Atoi(strings.TrimSpace(column)); {
	case column == "":
		lay, err = autoLayout(name, samples)
	case perr == nil:
		lay, err = positionLayout(name, samples, pos)
	default:
		lay, err = namedLayout(name, samples, column)
	}
	if err != nil {
		return layout{}, err
	}
	s := samples[slices.Index(delims, lay.delim)]
	data := 0
	for _, r := range s.recs[lay.header+1:] {
		if r.blank {
			continue
		}
		data++
		if lay.damageRow == 0 && lay.col < len(r.fields) && damageKind(NormalizeICCID(r.fields[lay.col])) != "" {
			lay.damageRow = r.row
		}
	}
	if lay.header >= 0 {
		h := s.recs[lay.header]
		lay.headerRow = h.row
		for _, r := range s.recs[:lay.header] {
			if !r.blank {
				if lay.preamble == 0 {
					lay.firstSkipped = quoteCell(strings.Join(r.fields, string(lay.delim)))
				}
				lay.preamble++
			}
		}
		if lay.col < len(h.fields) && strings.TrimFunc(h.fields[lay.col], isTrimmable) != "" {
			lay.label = fmt.Sprintf("%s (column %d)", quoteCell(strings.TrimFunc(h.fields[lay.col], isQuoteOrSpace)), lay.col+1)
		} else {
			lay.label = fmt.Sprintf("column %d", lay.col+1)
		}
	} else {
		lay.label = fmt.Sprintf("column %d (no header row)", lay.col+1)
	}
	if lay.how == howContent && lay.header >= 0 {
		lay.label += ", found by its content"
	}
	if data == 0 && atEOF {
		return layout{}, unusable(name, nil, "has a header (%s) but no SIM rows below it; expected one ICCID per row", lay.label)
	}
	return lay, nil
}

// autoLayout finds the ICCID column by its header name, else by content.
func autoLayout(name string, samples []sample) (layout, error) {
	var best candidate
	for i, s := range samples {
		if s.firstNonBlank() < 0 {
			continue // this delimiter leaves nothing but empty cells
		}
		c := candidate{s: s, hdr: -1, first: -1}
		hdr, cols, common := s.namedHeader()
		if hdr >= 0 && !common && len(cols) == 1 && !s.mostlyValid(hdr+1, cols[0]) && s.hasData(hdr) {
			// A lone name such as "iccid_count" whose cells are no ICCIDs:
			// look at the content instead.
			hdr = -1
		}
		if hdr >= 0 {
			c.found, c.hdr, c.cols, c.common = 2, hdr, cols, common
		} else if first, hdr := s.contentHeader(-1); first >= 0 {
			for _, col := range validColumns(s.recs[first].fields) {
				if s.mostlyValid(first, col) {
					c.cols = append(c.cols, col)
				}
			}
			if len(c.cols) > 0 {
				c.found, c.first, c.hdr = 1, first, hdr
				if len(c.cols) == 1 {
					_, c.hdr = s.contentHeader(c.cols[0])
				}
			}
		}
		if i == 0 || c.better(best) { // the first reading always has a non-blank record
			best = c
		}
	}
	if best.found == 0 {
		s := best.s
		hdr := s.firstNonBlank()
		return layout{}, unusable(name, nil, "has no ICCID column: row %d has %s; expected a column named ICCID (or SIM ICCID, ICCID number, ...): name the column with --column NAME or --column N (1-based position)",
			s.recs[hdr].row, listHeaders(s.recs[hdr].fields))
	}
	if len(best.cols) > 1 {
		return layout{}, ambiguous(name, best)
	}
	lay := layout{delim: best.s.delim, header: best.hdr, col: best.cols[0], how: howName}
	switch {
	case best.found == 1 && best.hdr < 0:
		lay.how = howHeaderless
	case best.found == 1:
		lay.how = howContent
	case !best.common:
		lay.how = howLoose
	}
	return lay, nil
}

func ambiguous(name string, c candidate) error {
	var names []string
	for _, col := range c.cols {
		if c.hdr >= 0 {
			h := c.s.recs[c.hdr].fields[col]
			names = append(names, fmt.Sprintf("%s (column %d)", quoteCell(strings.TrimFunc(h, isQuoteOrSpace)), col+1))
		} else {
			names = append(names, fmt.Sprintf("column %d", col+1))
		}
	}
	what := "named like ICCID in the header on row " + strconv.Itoa(c.s.recs[max(c.hdr, 0)].row)
	switch {
	case c.asked != "":
		what = fmt.Sprintf("named %s in the header on row %d", quoteCell(c.asked), c.s.recs[c.hdr].row)
	case c.found == 1:
		what = "holding ICCIDs from row " + strconv.Itoa(c.s.recs[c.first].row)
	}
	return unusable(name, nil, "found %d columns %s: %s; say which one to use with --column N (1-based position), e.g. --column %d",
		len(c.cols), what, strings.Join(names, ", "), c.cols[0]+1)
}

// positionLayout uses the 1-based column position given with --column.
func positionLayout(name string, samples []sample, pos int) (layout, error) {
	if pos < 1 {
		return layout{}, unusable(name, nil, "--column %d: positions start at 1 (the first column)", pos)
	}
	var best candidate
	for i, s := range samples {
		if s.firstNonBlank() < 0 {
			continue
		}
		c := candidate{s: s, hdr: -1, first: -1, cols: []int{pos - 1}}
		if hdr, _, _ := s.namedHeader(); hdr >= 0 {
			c.found, c.hdr = 2, hdr
		} else if first, hdr := s.contentHeader(pos - 1); first >= 0 {
			c.found, c.hdr, c.first = 1, hdr, first
		} else {
			c.hdr = s.firstNonBlank() // the first row is most likely a header
		}
		if i == 0 || c.better(best) { // the first reading always has a non-blank record
			best = c
		}
	}
	if pos > best.s.widest() {
		hdr := best.hdr
		if hdr < 0 {
			hdr = best.s.firstNonBlank()
		}
		return layout{}, unusable(name, nil, "--column %d: there is no such column; row %d has %s",
			pos, best.s.recs[hdr].row, listHeaders(best.s.recs[hdr].fields))
	}
	return layout{delim: best.s.delim, header: best.hdr, col: pos - 1, how: howOption}, nil
}

// namedLayout uses the column named with --column, matched like the
// automatic detection (case, spaces and punctuation do not count).
func namedLayout(name string, samples []sample, column string) (layout, error) {
	want := headerKey(column)
	match := func(h string) bool {
		if want == "" {
			return strings.TrimSpace(h) == strings.TrimSpace(column)
		}
		return headerKey(h) == want
	}
	var best candidate
	for i, s := range samples {
		if s.firstNonBlank() < 0 {
			continue
		}
		c := candidate{s: s, hdr: -1, first: -1, asked: column}
	search:
		for j, r := range s.recs[:min(len(s.recs), headerSearch)] {
			for k, f := range r.fields {
				if match(f) {
					c.cols = append(c.cols, k)
				}
			}
			if len(c.cols) > 0 {
				c.found, c.hdr = 2, j
				break search
			}
		}
		if i == 0 || c.better(best) { // the first reading always has a non-blank record
			best = c
		}
	}
	if best.found == 0 {
		s := best.s
		hdr := s.firstNonBlank()
		return layout{}, unusable(name, nil, "--column %q: no column has that name; row %d has %s",
			column, s.recs[hdr].row, listHeaders(s.recs[hdr].fields))
	}
	if len(best.cols) > 1 {
		return layout{}, ambiguous(name, best)
	}
	return layout{delim: best.s.delim, header: best.hdr, col: best.cols[0], how: howOption}, nil
}

// listHeaders lists the cells of a header row for a message.
func listHeaders(fields []string) string {
	const show = 12
	var parts []string
	for i, f := range fields {
		if i == show {
			parts = append(parts, fmt.Sprintf("... (%d columns)", len(fields)))
			break
		}
		parts = append(parts, quoteCell(strings.TrimFunc(f, isQuoteOrSpace)))
	}
	if len(fields) == 1 {
		return "one column, " + parts[0]
	}
	return "the columns " + strings.Join(parts, ", ")
}
