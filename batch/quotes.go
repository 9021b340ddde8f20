package batch

// quotes.go keeps a stray quote from swallowing the rest of a fleet file.
//
// encoding/csv (with LazyQuotes) reads a field that starts with `"` as a
// quoted cell that runs, across line breaks, to a closing quote. In a real
// export a label such as `"unclosed label`, `"12" display` or a cell whose
// closing quote was lost would then join every following line into one
// record, and the SIMs on those lines would get no result line. quoteFixer
// sits between the decoded text and the csv.Reader: it follows the parser's
// quote state line by line and, when a quoted cell left open at the end of
// its line cannot be a real multi-line cell, drops its opening quote, so
// that its line parses on its own and the following lines are read as
// records again.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"unicode/utf8"
)

const (
	// maxCellLines is the most physical lines a quoted cell may span. Real
	// multi-line cells (an address, a note) are a few lines long; a cell left
	// open longer was opened by a stray quote. It also bounds the lines
	// held back while a cell is open.
	maxCellLines = 20
	// maxQuoteWarnings is the number of rows of each kind of quoting problem
	// logged one by one; the rest are counted in a last warning.
	maxQuoteWarnings = 5
	// keepLineBuffer is the largest line buffer kept for reuse.
	keepLineBuffer = 64 << 10
)

// Why a quote was read as text rather than as the start of a quoted cell.
const (
	whyEOF       = "is never closed"
	whyBare      = "runs past the end of its line with a stray quote in it"
	whyUndecided = "-" // the head ends before the cell does: leave it to the parser
)

var whyLong = fmt.Sprintf("is not closed within %d lines", maxCellLines)

// strayQuote is an opening quote that quoteFixer dropped.
type strayQuote struct {
	line  int // parser line, as csv.Reader.FieldPos counts
	field int // 0-based position of the field in its record
}

// qline is a physical line held back while a quoted cell is open.
type qline struct {
	b     []byte // the line, with its line ending
	n     int    // its length without the line ending, as encoding/csv sees it
	num   int    // parser line number
	drops []int  // indexes of the quotes dropped, ascending
	// The scan of the line as the continuation of a quoted cell (from its
	// first byte), once made: the closing quote and the last bare quote
	// before it, -1 when there is none.
	scanned     bool
	close, bare int
}

// quoteFixer is an io.Reader that yields its source line for line, with the
// opening quote of each stray quoted cell removed. A quoted cell is taken as
// written when it closes on its own line, or when it is left open at the end
// of its line and closes within maxCellLines lines with no bare quote in it
// (a `"` that neither doubles another, nor closes the cell: no CSV writer
// produces one). Otherwise its opening quote is stray: dropped, and the rest
// of its line read again from there, exactly as encoding/csv will read it.
// Line breaks are never added or removed, so line and row numbers stay those
// of the file. At most maxCellLines lines are held back.
type quoteFixer struct {
	src        *bufio.Reader
	delim      []byte
	final      bool         // the end of src is the end of the file; false: only its head
	keep       bool         // keep the dropped quotes for strayIn
	log        *slog.Logger // nil: silent
	lineOffset int          // physical lines before the parser's first (a sep= line), for the log

	out     []byte // ready for Read, from off on
	off     int
	err     error    // returned once out is drained
	pending []*qline // pending[0] starts the next record; the others were read ahead
	free    []*qline
	long    []byte // a line longer than src's buffer
	end     bool   // src has nothing more
	srcErr  error  // src's error, other than io.EOF
	lines   int    // lines read from src
	row     int    // spreadsheet row of the record being followed

	// A line longer than src's buffer is passed on a piece at a time while
	// it holds no quote, rather than held whole: midLine tells that one is
	// under way, midField counts the fields its pieces so far began, and
	// midStart tells that the next byte starts a field.
	midLine  bool
	midField int
	midStart bool

	// ref is where the scan of the last dropped cell on the current line
	// started (-1: none), and refBare its last bare quote; see quotedAfterRef.
	ref, refBare int

	strays                  []strayQuote
	strayRows, lastStrayRow int
	multiCells              int
	naive                   bool // tests: no shortcuts, every scan made in full
}

// newQuoteFixer reads src, whose fields are separated by delim. final says
// that the end of src is the end of the file: a cell still open there was
// opened by a stray quote. When it is false (the head of a file), such a
// cell is passed on as it is.
func newQuoteFixer(src io.Reader, delim rune, final bool) *quoteFixer {
	br, ok := src.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(src)
	}
	return &quoteFixer{src: br, delim: utf8.AppendRune(nil, delim), final: final, ref: -1}
}

// Read implements io.Reader.
func (z *quoteFixer) Read(p []byte) (int, error) {
	if z.off == len(z.out) && len(z.pending) == 0 && !z.midLine && !z.end && !z.naive {
		if n := z.passPlain(p); n > 0 {
			return n, nil
		}
	}
	for z.off == len(z.out) {
		if z.err != nil {
			return 0, z.err
		}
		if cap(z.out) > 1<<20 {
			z.out = nil // do not keep the buffer of a huge line
		}
		z.out, z.off = z.out[:0], 0
		z.pump()
	}
	n := copy(p, z.out[z.off:])
	z.off += n
	return n, nil
}

// passPlain copies to p the whole lines that src holds, up to the first
// that leaves a quoted cell open: such lines pass as they are, without the
// work of the line by line path.
func (z *quoteFixer) passPlain(p []byte) int {
	if z.src.Buffered() == 0 {
		_, _ = z.src.Peek(1) // fill the buffer; an error is for readLine to see
	}
	buf, _ := z.src.Peek(min(z.src.Buffered(), len(p)))
	end, k := 0, 0
	for {
		nl := bytes.IndexByte(buf[end:], '\n')
		if nl < 0 {
			break
		}
		line := buf[end : end+nl+1]
		if bytes.IndexByte(line, '"') >= 0 && !closesOnLine(line[:contentLen(line)], z.delim) {
			break
		}
		end += nl + 1
		k++
	}
	if end == 0 {
		return 0
	}
	n := copy(p, buf[:end])
	z.lines += k
	z.row += k
	_, _ = z.src.Discard(n)
	return n
}

// strayIn takes the dropped quotes of the lines up to last and reports
// whether one of them opened field col.
func (z *quoteFixer) strayIn(last, col int) bool {
	found, i := false, 0
	for ; i < len(z.strays) && z.strays[i].line <= last; i++ {
		found = found || z.strays[i].field == col
	}
	z.strays = z.strays[i:]
	return found
}

// pump follows the next record and moves its lines to out.
func (z *quoteFixer) pump() {
	switch {
	case z.midLine:
		z.longLine()
		return
	case len(z.pending) > 0:
		z.row++
		z.record(0, true)
		return
	case z.end:
		z.finish()
		return
	}
	b, err := z.src.ReadSlice('\n')
	if err == bufio.ErrBufferFull && len(z.delim) == 1 && !z.naive && bytes.IndexByte(b, '"') < 0 {
		z.row++
		z.midLine, z.midField, z.midStart = true, 0, true
		z.passPiece(b)
		return
	}
	if b = z.wholeLine(b, err); b == nil {
		z.finish()
		return
	}
	z.row++
	if !z.naive && (bytes.IndexByte(b, '"') < 0 || closesOnLine(b[:contentLen(b)], z.delim)) {
		z.out = append(z.out, b...) // the common case: nothing held back
		return
	}
	z.pending = append(z.pending, z.newLine(b))
	z.record(0, true)
}

// longLine goes on with a long line whose pieces so far held no quote: the
// next piece passes on too, unless it holds a quote; then the rest of the
// line is followed as a record from the state its start left.
func (z *quoteFixer) longLine() {
	b, err := z.src.ReadSlice('\n')
	if bytes.IndexByte(b, '"') < 0 {
		if err == bufio.ErrBufferFull {
			z.passPiece(b)
			return
		}
		z.out = append(z.out, b...)
		z.midLine = false
		z.lines++
		if err != nil {
			z.end = true
			if err != io.EOF {
				z.srcErr = err
			}
		}
		return
	}
	z.midLine = false
	z.pending = append(z.pending, z.newLine(z.wholeLine(b, err)))
	z.record(z.midField, z.midStart)
}

// passPiece passes on a piece of a long line that holds no quote.
func (z *quoteFixer) passPiece(b []byte) {
	z.out = append(z.out, b...)
	z.midField += bytes.Count(b, z.delim)
	z.midStart = bytes.HasSuffix(b, z.delim)
}

// record follows the record that starts on pending[0], dropping stray
// opening quotes, and emits its lines. f is the number of fields before the
// line's first byte, and atStart tells that this byte starts a field: false
// when the start of a long line was already passed on (see longLine).
func (z *quoteFixer) record(f int, atStart bool) {
	row, l := z.row, z.pending[0]
	c := l.b[:l.n]
	p := 0
	z.ref = -1
	if !atStart {
		// The first bytes end an unquoted field: quotes in it are text.
		i := bytes.Index(c, z.delim)
		if i < 0 {
			z.emit(1)
			return
		}
		p, f = i+len(z.delim), f+1
	}
	for {
		if p < len(c) && c[p] == '"' {
			q := p
			end, bare := z.quoted(c, q+1)
			if end >= 0 {
				if end+1 == len(c) {
					break
				}
				p, f = end+1+len(z.delim), f+1
				continue
			}
			why := whyBare
			if bare < 0 {
				k, at, w := z.continuation()
				switch w {
				case whyUndecided:
					z.emit(len(z.pending))
					return
				case "":
					z.multiline(row, f, l.num, z.pending[k].num)
					z.emit(k)
					l = z.pending[0]
					c = l.b[:l.n]
					z.ref = -1
					if at+1 == len(c) {
						z.emit(1)
						return
					}
					p, f = at+1+len(z.delim), f+1
					continue
				}
				why = w
			}
			z.drop(l, q, f, row, why)
			z.ref, z.refBare = q+1, bare
			p = q + 1 // the field now starts after the dropped quote
			continue
		}
		i := bytes.Index(c[p:], z.delim)
		if i < 0 {
			break
		}
		p, f = p+i+len(z.delim), f+1
	}
	z.emit(1)
}

// continuation looks, in the lines after pending[0], for the end of a quoted
// cell left open at the end of pending[0]. It returns the line (index in
// pending) and the index of the closing quote, with why empty; or why the
// cell's opening quote is stray; or whyUndecided when the head ends first.
func (z *quoteFixer) continuation() (k, at int, why string) {
	for k = 1; ; k++ {
		if k == maxCellLines {
			return 0, 0, whyLong
		}
		if k == len(z.pending) {
			b := z.readLine()
			if b == nil {
				if !z.final {
					return 0, 0, whyUndecided
				}
				return 0, 0, whyEOF
			}
			z.pending = append(z.pending, z.newLine(b))
		}
		l := z.pending[k]
		if !l.scanned {
			l.close, l.bare = scanQuoted(l.b[:l.n], 0, z.delim)
			l.scanned = true
		}
		switch {
		case l.bare >= 0:
			return 0, 0, whyBare
		case l.close >= 0:
			return k, l.close, ""
		}
	}
}

// quoted scans a quoted cell's content from c[from:]; see scanQuoted.
func (z *quoteFixer) quoted(c []byte, from int) (end, bare int) {
	if z.ref >= 0 && from > z.ref && !z.naive {
		return z.quotedAfterRef(c, from)
	}
	return scanQuoted(c, from, z.delim)
}

// quotedAfterRef is scanQuoted for a cell opened after a dropped one on the
// same line, in time proportional to the quotes at its start rather than to
// the rest of the line (a line of many stray quotes would otherwise cost the
// square of its length). The scan of the dropped cell, from ref, ran to the
// end of the line without closing. Both scans read a byte that is not a
// quote as a token of its own, so once this scan has read one, the two are
// in step: from there this one cannot close either, and its bare quotes are
// those of the reference.
func (z *quoteFixer) quotedAfterRef(c []byte, from int) (end, bare int) {
	bare = -1
	for i := from; i < len(c); {
		switch {
		case c[i] != '"':
			if z.refBare > i {
				bare = z.refBare
			}
			return -1, bare
		case i+1 < len(c) && c[i+1] == '"':
			i += 2
		case i+1 == len(c) || bytes.HasPrefix(c[i+1:], z.delim):
			return i, bare
		default:
			bare = i
			i++
		}
	}
	return -1, bare
}

// scanQuoted scans a quoted cell's content from c[from:] (c being a line
// without its line ending) as encoding/csv with LazyQuotes does: `""` is an
// escaped quote, a quote followed by the delimiter or by the end of the line
// closes the cell, any other quote is a bare quote, kept as text. It returns
// the index of the closing quote (-1: the line ends first) and of the last
// bare quote before it (-1: none).
func scanQuoted(c []byte, from int, delim []byte) (end, bare int) {
	bare = -1
	for i := from; ; {
		j := bytes.IndexByte(c[i:], '"')
		if j < 0 {
			return -1, bare
		}
		i += j
		switch {
		case i+1 < len(c) && c[i+1] == '"':
			i += 2
		case i+1 == len(c) || bytes.HasPrefix(c[i+1:], delim):
			return i, bare
		default:
			bare = i
			i++
		}
	}
}

// closesOnLine reports whether every quoted cell of a record starting at c
// (a line without its line ending) closes on that line.
func closesOnLine(c, delim []byte) bool {
	for p := 0; ; {
		if p < len(c) && c[p] == '"' {
			end, _ := scanQuoted(c, p+1, delim)
			if end < 0 {
				return false
			}
			if end+1 == len(c) {
				return true
			}
			p = end + 1 + len(delim)
			continue
		}
		i := bytes.Index(c[p:], delim)
		if i < 0 {
			return true
		}
		p += i + len(delim)
	}
}

// contentLen is the length of line b without its line ending, as
// encoding/csv reads it: it ends a line at LF, reads CRLF as LF, and drops
// a CR just before the end of the file.
func contentLen(b []byte) int {
	n := len(b)
	switch {
	case n >= 2 && b[n-2] == '\r' && b[n-1] == '\n':
		return n - 2
	case n >= 1 && (b[n-1] == '\n' || b[n-1] == '\r'):
		return n - 1 // a line ending in CR alone is the last one
	}
	return n
}

// drop removes the opening quote at c[q] of field f, on line l of the record
// on row, and says so once per row.
func (z *quoteFixer) drop(l *qline, q, f, row int, why string) {
	l.drops = append(l.drops, q)
	if z.keep {
		z.strays = append(z.strays, strayQuote{line: l.num, field: f})
	}
	if row == z.lastStrayRow {
		return
	}
	z.lastStrayRow = row
	z.strayRows++
	if z.log != nil && z.strayRows <= maxQuoteWarnings {
		z.log.Warn(fmt.Sprintf("row %d: a quote opened in column %d %s; read as text", row, f+1, why),
			"row", row, "line", l.num+z.lineOffset, "column", f+1)
	}
}

// multiline notes a quoted cell that spans lines first to last: taken as
// written, but it may join rows whose quotes were damaged.
func (z *quoteFixer) multiline(row, f, first, last int) {
	z.multiCells++
	if z.log != nil && z.multiCells <= maxQuoteWarnings {
		z.log.Warn(fmt.Sprintf("row %d: a quoted cell in column %d spans %d lines; read as one row (check that it does not join rows)", row, f+1, last-first+1),
			"row", row, "line", first+z.lineOffset, "column", f+1)
	}
}

func (z *quoteFixer) finish() {
	z.err = io.EOF
	if z.srcErr != nil {
		z.err = z.srcErr
	}
	if z.log != nil && (z.strayRows > maxQuoteWarnings || z.multiCells > maxQuoteWarnings) {
		z.log.Warn("quoting problems in the file, not all listed one by one",
			"rows_with_stray_quotes", z.strayRows, "multiline_cells", z.multiCells)
	}
}

// emit moves the first k pending lines to out, without their dropped quotes.
func (z *quoteFixer) emit(k int) {
	for _, l := range z.pending[:k] {
		prev := 0
		for _, q := range l.drops {
			z.out = append(z.out, l.b[prev:q]...)
			prev = q + 1
		}
		z.out = append(z.out, l.b[prev:]...)
		if cap(l.b) <= keepLineBuffer && len(z.free) <= maxCellLines {
			z.free = append(z.free, l)
		}
	}
	n := copy(z.pending, z.pending[k:])
	clear(z.pending[n:])
	z.pending = z.pending[:n]
}

// newLine copies b, which is only valid until the next read, into a qline.
func (z *quoteFixer) newLine(b []byte) *qline {
	var l *qline
	if n := len(z.free); n > 0 {
		l, z.free = z.free[n-1], z.free[:n-1]
	} else {
		l = new(qline)
	}
	l.b = append(l.b[:0], b...)
	l.n = contentLen(l.b)
	l.num = z.lines
	l.drops = l.drops[:0]
	l.scanned = false
	return l
}

// readLine returns the next line with its line ending (none on the last
// one), valid until the next read; nil at the end.
func (z *quoteFixer) readLine() []byte {
	if z.end {
		return nil
	}
	b, err := z.src.ReadSlice('\n')
	return z.wholeLine(b, err)
}

// wholeLine completes the line b that ReadSlice returned with err: it reads
// the rest of a line longer than src's buffer, and notes the end of src. The
// line is valid until the next read; nil at the end.
func (z *quoteFixer) wholeLine(b []byte, err error) []byte {
	if cap(z.long) > 1<<20 {
		z.long = nil // the last long line was copied: do not keep its buffer
	}
	if err == bufio.ErrBufferFull {
		z.long = append(z.long[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = z.src.ReadSlice('\n')
			z.long = append(z.long, b...)
		}
		b = z.long
	}
	if err != nil {
		z.end = true
		if err != io.EOF {
			z.srcErr = err
		}
	}
	if len(b) == 0 {
		return nil
	}
	z.lines++
	return b
}
