package batch

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode"
)

// FuzzReader feeds arbitrary bytes to the Reader: it must never panic, never
// offer a value for sending that is not a valid ICCID, and never put control
// characters in a message. Seeds: testdata/fuzz/FuzzReader plus the lines below.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"ICCID\n89882990000000001013\n",
		"\xef\xbb\xbf\"ICCID\",\"x\"\r\n\"89882990000000001013\",\"a\"\r\n",
		"\xff\xfeI\x00C\x00C\x00I\x00D\x00\n\x008\x009\x00",
		"sep=;\nICCID;x\n8,98830E+19;1\n",
		"ICCID\r89882990000000001013\r\r",
		"a,b\n\"x\ny\",89882990000000001013\n",
		"89882990000000001013\n8988299000000000101F\n",
		"ICCID,iccid_with_luhn\n1,2\n",
		// Stray quotes: the reviewer's shapes, in the ICCID cell, on the last line.
		"ICCID,Label\n89882990000000001013,\"unclosed label\n89882990000000001039,dev\n",
		"\"ICCID\";\"Label\"\r\n\"89882990000000001013\";\"12\" display\r\n\"89882990000000001039\";\"dev\"\r\n",
		"ICCID,Label\n89882990000000001013,\"Bob's meter, basement\n\"89882990000000001039,x\n89882990000000001047,\"last",
		"Label,ICCID\n\"a\nb\",89882990000000001013\n\"\"\"c,89882990000000001039\n",
		// A NUL past the first 512 bytes, in the ICCID cell.
		"ICCID\n" + strings.Repeat("\n", 512) + "8988299000000000101\x003\n",
	} {
		f.Add([]byte(s), "", false)
	}
	f.Add([]byte("sim,id\n89882990000000001013,1\n"), "sim", true)
	f.Add([]byte("a;b\nx;89882990000000001013\n"), "2", false)
	f.Fuzz(func(t *testing.T, data []byte, column string, strict bool) {
		rd, err := NewReader(bytes.NewReader(data), ReaderOptions{Column: column, Strict: strict})
		if err != nil {
			return
		}
		row := 0
		for range 10_000 {
			rec, err := rd.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("Next on an in-memory input: %v", err)
			}
			if rec.Row <= row {
				t.Fatalf("row %d after row %d", rec.Row, row)
			}
			row = rec.Row
			if rec.Outcome == "" {
				if err := ValidateICCID(rec.ICCID); err != nil {
					t.Fatalf("row %d: would send %q: %v", rec.Row, rec.ICCID, err)
				}
				if strict && isPlainICCID(rec.ICCID) && !LuhnValid(rec.ICCID) {
					t.Fatalf("row %d: would send %q failing Luhn with Strict", rec.Row, rec.ICCID)
				}
			}
			if strings.IndexFunc(rec.Message, unicode.IsControl) >= 0 {
				t.Fatalf("row %d: control characters in %q", rec.Row, rec.Message)
			}
		}
	})
}

// FuzzNormalize checks that NormalizeICCID never panics, is stable, and that
// whatever it validates packs into a key that gives the ICCID back.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"89882990000000001013", "'89882990000000001013 ", `="89882990000000001013"`,
		"\u20198988 2990 0000 0000 1013", "8981290000000001026F", "8.98811E+18",
		"89882990a0000000583", "８９８８", "Total", "", `"=""8988"""`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n := NormalizeICCID(raw)
		if again := NormalizeICCID(n); again != n {
			t.Fatalf("NormalizeICCID(%q) = %q, then %q", raw, n, again)
		}
		if ValidateICCID(n) != nil {
			return
		}
		if got := KeyOf(n).String(); got != n {
			t.Fatalf("KeyOf(%q).String() = %q", n, got)
		}
		_ = LuhnValid(n)
	})
}
