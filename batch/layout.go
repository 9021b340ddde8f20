package batch

// layout.go finds where the data is in a fleet file: the delimiter, the header
// record, and the ICCID column (by name, by --column, or by content).

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

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
	cr := csv.NewReader(newQuoteFixer(bytes.NewReader(head), delim, atEOF))
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

// namedColumn tells whether the header cell of column col is a common ICCID name.
func namedColumn(header []string, col int) bool {
	if col >= len(header) {
		return false
	}
	common, _ := iccidName(header[col])
	return common
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
	case best.found == 1 && !namedColumn(best.s.recs[best.hdr].fields, best.cols[0]):
		lay.how = howContent
	case best.found == 1:
		// Found by content below a title line that only mentions ICCID, but
		// the header above the values does name the column.
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
		} else if first, hdr := s.contentHeader(-1); first >= 0 {
			// The chosen column holds no ICCIDs but another does: the rows
			// start where those values start, and a first row holding one is
			// data, not a header (its line reports the wrong column).
			c.hdr, c.first = hdr, first
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
