package batch

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ICCID length bounds (ITU-T E.118: up to 19 digits plus check digit, with
// some issuers going to 22 characters) and the prefix every SIM ICCID carries
// (major industry identifier 89, telecommunications).
const (
	minICCIDLen = 18
	maxICCIDLen = 22
	iccidPrefix = "89"
)

// Errors returned by ValidateICCID. Their text is written into result lines,
// so it is phrased for the operator and never contains the value itself.
var (
	errICCIDEmpty  = errors.New("empty ICCID cell")
	errICCIDChars  = errors.New("not an ICCID: expected 18 to 22 digits starting with 89")
	errICCIDPrefix = errors.New("not an ICCID: an ICCID starts with 89")
)

// NormalizeICCID returns raw cleaned the way an operator would clean it by hand:
// surrounding white space (NBSP and BOM included), quotes, a leading apostrophe
// or U+2019 (Excel's text marker, autocorrected), an Excel ="..." text-formula
// wrapper, inner spaces and dashes, and the trailing F filler that modems report
// (only when the rest is decimal digits) are removed; ASCII letters are upper-cased
// so that hex digits compare equal; full-width digits become ASCII. The value is
// never converted to a number, so no digit can be lost. The result is stable:
// NormalizeICCID(NormalizeICCID(s)) == NormalizeICCID(s).
func NormalizeICCID(raw string) string {
	if isPlainICCID(raw) {
		return raw // the common case costs no allocation
	}
	s := raw
	if !utf8.ValidString(s) {
		s = mapLegacy(s)
	}
	// Each step only shortens the string (after the first, which may also
	// upper-case), so the loop reaches a fixed point quickly.
	for i := 0; i < len(raw)+2; i++ {
		next := normalizeOnce(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

// mapLegacy replaces the Windows-1252 and Mac Roman bytes for NBSP and curly
// quotes, which a legacy export leaves around an ICCID, by their ASCII
// counterparts, so that they are trimmed like the Unicode ones. Only bytes
// that are not part of valid UTF-8 are touched.
func mapLegacy(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			switch b[i] {
			case 0xA0, 0xCA: // NBSP in Windows-1252, Mac Roman
				b[i] = ' '
			case 0x91, 0x92, 0x93, 0x94, 0xD2, 0xD3, 0xD4, 0xD5: // curly quotes
				b[i] = '\''
			}
		}
		i += size
	}
	return string(b)
}

// isPlainICCID reports whether s is already in normal form: digits only,
// not ending in the F filler.
func isPlainICCID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func normalizeOnce(s string) string {
	s = strings.TrimFunc(s, isTrimmable)
	for {
		t := s
		t = strings.TrimPrefix(t, "=") // ="..." or a bare = typed before the number
		t = strings.TrimFunc(t, isQuoteOrSpace)
		if t == s {
			break
		}
		s = t
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteByte(s[i]) // keep bytes that are not UTF-8 as they are
		case isInvisible(r) || isDash(r):
			// inner spaces and dashes are grouping, not content
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= '０' && r <= '９':
			b.WriteRune(r - '０' + '0')
		default:
			b.WriteRune(r)
		}
		i += size
	}
	s = b.String()
	if trimmed := strings.TrimRight(s, "F"); trimmed != s && trimmed != "" && isPlainICCID(trimmed) {
		s = trimmed
	}
	return s
}

// isInvisible reports white space, including NBSP, and the invisible marks
// that web pages and Excel leave in cells (BOM, zero-width space, direction marks).
func isInvisible(r rune) bool {
	switch r {
	case '\uFEFF', '\u200B', '\u200C', '\u200D', '\u200E', '\u200F', '\u2060':
		return true
	}
	return unicode.IsSpace(r)
}

// isTrimmable adds control characters, which may end a cell (a stray NUL or
// ^Z from an old export) but are never removed from inside a value.
func isTrimmable(r rune) bool {
	return isInvisible(r) || unicode.IsControl(r)
}

func isQuoteOrSpace(r rune) bool {
	switch r {
	case '"', '\'', '`', '\u2018', '\u2019', '\u201A', '\u201B', '\u201C', '\u201D', '\u201E', '\u00B4':
		return true
	}
	return isTrimmable(r)
}

func isDash(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\uFE63', '\uFF0D':
		return true
	}
	return false
}

// ValidateICCID returns nil when iccid, already normalised by NormalizeICCID,
// can be sent: it starts with 89, has 18 to 22 characters, and is made of
// decimal digits, with hex letters A-F allowed after the prefix (some issuers
// use them). The Luhn check digit is not checked here (see LuhnValid). The
// error text is meant for the operator and does not repeat the value.
func ValidateICCID(iccid string) error {
	if iccid == "" {
		return errICCIDEmpty
	}
	for i := 0; i < len(iccid); i++ {
		if c := iccid[i]; (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return errICCIDChars
		}
	}
	if !strings.HasPrefix(iccid, iccidPrefix) {
		if isPlainICCID(iccid) {
			return errICCIDPrefix
		}
		return errICCIDChars // a word made of hex letters, such as "DEAD"
	}
	if n := len(iccid); n < minICCIDLen {
		return fmt.Errorf("too short for an ICCID: %d %s, expected 18 to 22", n, unit(iccid))
	} else if n > maxICCIDLen {
		return fmt.Errorf("too long for an ICCID: %d %s, expected 18 to 22", n, unit(iccid))
	}
	return nil
}

func unit(s string) string {
	if isPlainICCID(s) {
		return "digits"
	}
	return "characters"
}

// LuhnValid reports whether the last digit of iccid is its Luhn check digit.
// It is false for anything that is not all decimal digits (a hex ICCID has no
// Luhn digit to check) and for strings shorter than two digits.
func LuhnValid(iccid string) bool {
	if len(iccid) < 2 || !isPlainICCID(iccid) {
		return false
	}
	return LuhnDigit(iccid[:len(iccid)-1]) == iccid[len(iccid)-1]
}

// LuhnDigit returns the check digit that makes body followed by it pass the Luhn
// check: every second digit from the right of body is doubled. body must be all
// decimal digits. Generators and tests use it to make valid ICCIDs.
func LuhnDigit[T ~string | ~[]byte](body T) byte {
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// ICCIDKey is a compact, comparable form of a valid ICCID for the set of ICCIDs
// already seen: 22 hex nibbles packed into 11 bytes, then the length. With the
// first row as an int32 that is 16 bytes an entry, where a string key alone
// would take 36.
type ICCIDKey [12]byte

// KeyOf packs iccid, which must be normalised and valid (see ValidateICCID):
// two different valid ICCIDs never share a key. For other strings the key is
// deterministic but may collide.
func KeyOf(iccid string) ICCIDKey {
	var k ICCIDKey
	n := min(len(iccid), 2*(len(k)-1))
	for i := 0; i < n; i++ {
		k[i/2] |= nibble(iccid[i]) << (4 * (1 - uint(i)%2))
	}
	k[len(k)-1] = byte(n)
	return k
}

func nibble(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// String returns the ICCID that k was made from.
func (k ICCIDKey) String() string {
	const digits = "0123456789ABCDEF"
	n := int(k[len(k)-1])
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[(k[i/2]>>(4*(1-uint(i)%2)))&0xF]
	}
	return string(b)
}

// damageKind tells whether a normalised value shows that it went through a
// spreadsheet's number format: "scientific" (8.98811E+18, 8,98830E+19),
// "decimal" (89882990000000001013.0) or "grouped" (89,882,990,000,000,000,000);
// "" otherwise.
func damageKind(v string) string {
	if thousandsGrouped(v) {
		return "grouped"
	}
	mant, exp, hasExp := strings.Cut(v, "E")
	if hasExp {
		exp = strings.TrimPrefix(exp, "+")
		if exp == "" || !isPlainICCID(exp) {
			return ""
		}
	}
	intPart, frac, hasFrac := strings.Cut(mant, ".")
	if !hasFrac {
		intPart, frac, hasFrac = strings.Cut(mant, ",")
	}
	if !isPlainICCID(intPart) || (hasFrac && !isPlainICCID(frac)) {
		return ""
	}
	switch {
	case hasExp:
		return "scientific"
	case hasFrac && len(intPart) >= 10:
		return "decimal"
	}
	return ""
}

// thousandsGrouped reports a number of at least 15 digits written with
// thousands separators (comma or dot), as a number format shows it.
func thousandsGrouped(v string) bool {
	groups := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '.' })
	if len(groups) < 5 || v[0] == ',' || v[0] == '.' || v[len(v)-1] == ',' || v[len(v)-1] == '.' {
		return false
	}
	sep := v[len(groups[0])]
	digits := 0
	for i, g := range groups {
		if !isPlainICCID(g) || (i == 0 && len(g) > 3) || (i > 0 && len(g) != 3) {
			return false
		}
		digits += len(g)
	}
	return digits >= 15 && strings.Count(v, string(sep)) == len(groups)-1
}

// cutTo15 reports whether an all-digit value has only zeros after its 15th
// digit, the mark of a spreadsheet that kept 15 significant digits.
func cutTo15(iccid string) bool {
	if len(iccid) <= 15 || !isPlainICCID(iccid) {
		return false
	}
	return strings.Trim(iccid[15:], "0") == ""
}

// quoteCell returns v quoted for a message: control characters and invalid
// UTF-8 escaped, and long values shortened.
func quoteCell(v string) string {
	const maxRunes = 40
	if utf8.RuneCountInString(v) > maxRunes {
		i, n := 0, 0
		for i = range v {
			if n == maxRunes {
				break
			}
			n++
		}
		return fmt.Sprintf("%q", v[:i]+"...")
	}
	return fmt.Sprintf("%q", v)
}
