package batch

// text.go turns the bytes of a fleet file into UTF-8 text for the CSV parser:
// encodings, byte-order marks, lone CR line endings, Excel's sep= line, and the
// check for binary data.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"unicode/utf8"

	textunicode "golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

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
	if why := binaryText(t.head); why != "" {
		return nil, unusable(name, nil, "looks like binary data, not CSV text (%s); expected a CSV export with an ICCID column", why)
	}
	if d, n, ok := sepLine(t.head, t.atEOF); ok {
		t.head = t.head[n:]
		t.delim, t.lineOffset = d, 1
		log.Info("the first line sets the delimiter (Excel sep= line)", "delimiter", delimName(d))
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

// Binary data, told from text with a few stray control bytes: a NUL within
// nulWindow bytes of the start (where the headers of executables, images and
// other binary formats put them), or more than 1 % of NUL and control bytes
// in the part sniffed, and more than a few (one stray byte in a small file
// is not a share).
const (
	nulWindow      = 512
	maxControlPerK = 10 // control bytes per thousand
	fewControls    = 3
)

// binaryText tells why the decoded text looks like binary data (the
// message says what was measured), or returns "". A text export with a few
// stray NUL or control bytes is not binary: a NUL inside an ICCID cell makes
// that row invalid, elsewhere it is harmless.
func binaryText(text []byte) string {
	if i := bytes.IndexByte(text[:min(len(text), nulWindow)], 0); i >= 0 {
		return fmt.Sprintf("a NUL byte at byte %d of the text, within its first %d bytes", i+1, nulWindow)
	}
	nul, ctrl := 0, 0
	for _, c := range text {
		switch {
		case c == 0:
			nul++
		case isControlByte(c):
			ctrl++
		}
	}
	if n := nul + ctrl; n <= fewControls || n*1000 <= len(text)*maxControlPerK {
		return ""
	}
	return fmt.Sprintf("%d NUL and %d other control bytes in the first %d bytes of the text, %.1f%%",
		nul, ctrl, len(text), float64(nul+ctrl)*100/float64(len(text)))
}

// isControlByte reports a control byte that text does not hold. Bytes >= 0x80
// are not counted: legacy encodings (Windows-1252, Mac Roman) use them for
// letters; white space and ^Z (the end-of-file mark of old DOS exports) are
// text.
func isControlByte(c byte) bool {
	return (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1A) || c == 0x7F
}

// binaryStart tells why the first bytes of a file, not yet decoded, are
// binary data (a known binary format, or a NUL near the start of what is not
// UTF-16), or returns "". Copying a pipe or a device for a second read stops
// on it, rather than filling the disk with /dev/zero.
func binaryStart(b []byte) string {
	if kind := binaryKind(b); kind != "" {
		return kind
	}
	if bytes.HasPrefix(b, bomUTF16LE) || bytes.HasPrefix(b, bomUTF16BE) {
		return ""
	}
	if _, ok := guessUTF16(b); ok {
		return ""
	}
	if i := bytes.IndexByte(b[:min(len(b), nulWindow)], 0); i >= 0 {
		return fmt.Sprintf("binary data (a NUL byte at byte %d, within the first %d bytes)", i+1, nulWindow)
	}
	return ""
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
