package batch

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// fixQuotes runs s through a quoteFixer and returns what it yields and the
// stray quotes it dropped, as "line:field". Without naive, it reads s through
// a 16-byte buffer, which makes most lines long lines.
func fixQuotes(t testing.TB, s string, delim rune, final, naive bool) (string, []string) {
	t.Helper()
	var src io.Reader = strings.NewReader(s)
	if !naive {
		src = bufio.NewReaderSize(src, 16)
	}
	z := newQuoteFixer(src, delim, final)
	z.keep, z.naive = true, naive
	out, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	var strays []string
	for _, sq := range z.strays {
		strays = append(strays, fmt.Sprintf("%d:%d", sq.line, sq.field))
	}
	return string(out), strays
}

func TestQuoteFixer(t *testing.T) {
	long := strings.Repeat("x\n", maxCellLines-2) // with the first and last: maxCellLines
	for _, tc := range []struct {
		name   string
		in     string
		delim  rune
		head   bool // only the head of a file: a cell open at its end is left alone
		want   string
		strays []string
	}{
		{name: "no quotes", in: "a,b\n\nc\n", want: "a,b\n\nc\n"},
		{name: "quoted cells closed on their line", in: "\"a,b\",\"c \"\"d\"\"\"\r\n\"\",x\n", want: "\"a,b\",\"c \"\"d\"\"\"\r\n\"\",x\n"},
		{name: "unclosed label, never closed", in: "i,l\n1,\"unclosed label\n2,dev\n3,dev", want: "i,l\n1,unclosed label\n2,dev\n3,dev", strays: []string{"2:1"}},
		{name: "a bare quote on the line", in: "1,\"12\" display\n2,dev\n", want: "1,12\" display\n2,dev\n", strays: []string{"1:1"}},
		{name: "Bob's meter, comma inside", in: "1,\"Bob's meter, basement\n2,x\n", want: "1,Bob's meter, basement\n2,x\n", strays: []string{"1:1"}},
		{name: "semicolon", delim: ';', in: "1;\"a;b\n2;x\n", want: "1;a;b\n2;x\n", strays: []string{"1:1"}},
		{name: "quoted file: the next line's quotes are bare", in: "\"1\",\"unclosed\n\"2\",\"dev\"\n", want: "\"1\",unclosed\n\"2\",\"dev\"\n", strays: []string{"1:1"}},
		{name: "stray quote in the first field", in: "\"1,dev\n2,dev\n", want: "1,dev\n2,dev\n", strays: []string{"1:0"}},
		{name: "on the last line, no line ending", in: "1,a\n2,\"last", want: "1,a\n2,last", strays: []string{"2:1"}},
		{name: "on the last line, CRLF", in: "1,a\r\n2,\"last\r\n", want: "1,a\r\n2,last\r\n", strays: []string{"2:1"}},
		{name: "a lone quote at the end of a line", in: "1,\"\n2,x\n", want: "1,\n2,x\n", strays: []string{"1:1"}},
		{name: "escaped quote before the line end", in: "1,\"a\"\"\n2,x\n", want: "1,a\"\"\n2,x\n", strays: []string{"1:1"}},
		{name: "legit multi-line cell", in: "1,\"a\nb\nc\",x\n2,y\n", want: "1,\"a\nb\nc\",x\n2,y\n"},
		{name: "legit multi-line cell closing the record", in: "1,\"a\r\n\r\nb\"\r\n2,y\r\n", want: "1,\"a\r\n\r\nb\"\r\n2,y\r\n"},
		{name: "two multi-line cells in one record", in: "\"a\nb\",\"c\nd\"\n2\n", want: "\"a\nb\",\"c\nd\"\n2\n"},
		{name: "a multi-line cell, then a stray quote in the same record", in: "\"a\nb\",\"c\n2\n", want: "\"a\nb\",c\n2\n", strays: []string{"2:1"}},
		{name: "cell of the most lines allowed", in: "1,\"a\n" + long + "b\"\n2\n", want: "1,\"a\n" + long + "b\"\n2\n"},
		{name: "cell of one line more", in: "1,\"a\n" + long + "x\nb\"\n2\n", want: "1,a\n" + long + "x\nb\"\n2\n", strays: []string{"1:1"}},
		{name: "a bare quote on a later line", in: "1,\"a\nx\"y\nb\"\n", want: "1,a\nx\"y\nb\"\n", strays: []string{"1:1"}},
		{name: "several stray quotes on one line", in: "\"a,\"b,\"c\nd\n", want: "a,b,c\nd\n", strays: []string{"1:0", "1:1", "1:2"}},
		{name: "a dropped quote uncovers another", in: "1,\"\"\"a\n2\n", want: "1,a\n2\n", strays: []string{"1:1", "1:1", "1:1"}},
		{name: "after a dropped quote, a cell that closes", in: "\"a,\"\",x\n2\n", want: "a,\"\",x\n2\n", strays: []string{"1:0"}},
		{name: "every row opens a quote", in: "1,\"a\n2,\"b\n3,\"c\n", want: "1,a\n2,b\n3,c\n", strays: []string{"1:1", "2:1", "3:1"}},
		{name: "a CR before the end of the file closes", in: "1,\"a\"\r", want: "1,\"a\"\r"},
		{name: "multi-byte delimiter", delim: '§', in: "1§\"a\"§b\n2§\"c\n3\n", want: "1§\"a\"§b\n2§c\n3\n", strays: []string{"2:1"}},
		{name: "long line, no quote", in: strings.Repeat("a,", 40) + "\n1,\"x\n2\n", want: strings.Repeat("a,", 40) + "\n1,x\n2\n", strays: []string{"2:1"}},
		{name: "long line, a stray quote after a long start", in: strings.Repeat("a,", 40) + "\"x\n2\n", want: strings.Repeat("a,", 40) + "x\n2\n", strays: []string{"1:40"}},
		{name: "long line, a quote inside an unquoted field", in: strings.Repeat("a", 40) + "\"x,\"y\n2\n", want: strings.Repeat("a", 40) + "\"x,y\n2\n", strays: []string{"1:1"}},
		{name: "long line, a multi-line cell after a long start", in: strings.Repeat("a;", 20) + "\"x\ny\";z\n2\n", delim: ';', want: strings.Repeat("a;", 20) + "\"x\ny\";z\n2\n"},
		{name: "head: open at its end is left alone", head: true, in: "1,a\n2,\"open\n3,x\n", want: "1,a\n2,\"open\n3,x\n"},
		{name: "head: decided within it", head: true, in: "1,\"12\" x\n2,\"open\n" + long + "3\n", want: "1,12\" x\n2,open\n" + long + "3\n", strays: []string{"1:1", "2:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			delim := tc.delim
			if delim == 0 {
				delim = ','
			}
			for _, naive := range []bool{false, true} {
				got, strays := fixQuotes(t, tc.in, delim, !tc.head, naive)
				if got != tc.want {
					t.Errorf("naive=%v: got\n%q\nwant\n%q", naive, got, tc.want)
				}
				if !slices.Equal(strays, tc.strays) {
					t.Errorf("naive=%v: strays %q, want %q", naive, strays, tc.strays)
				}
			}
		})
	}
}

// TestQuoteFixerManyStrays reads a line of 100,000 stray quotes: each one is
// dropped, and (by the shortcut of quotedAfterRef) in linear time.
func TestQuoteFixerManyStrays(t *testing.T) {
	in := strings.Repeat("\"a,", 100_000) + "\nb\n"
	got, strays := fixQuotes(t, in, ',', true, false)
	if want := strings.Repeat("a,", 100_000) + "\nb\n"; got != want {
		t.Errorf("got %.40q..., want %.40q...", got, want)
	}
	if len(strays) != 100_000 {
		t.Errorf("%d strays, want 100000", len(strays))
	}
}

// TestQuoteFixerOneByte feeds the fixer one byte at a time, which makes
// every line longer than what its source holds at once.
func TestQuoteFixerOneByte(t *testing.T) {
	in := "i,l\n1,\"12\" x\r\n2,\"a\nb\"\n3,\"open\n4,d"
	z := newQuoteFixer(iotest.OneByteReader(strings.NewReader(in)), ',', true)
	got, err := io.ReadAll(iotest.OneByteReader(z))
	if err != nil {
		t.Fatal(err)
	}
	if want := "i,l\n1,12\" x\r\n2,\"a\nb\"\n3,open\n4,d"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestQuoteFixerSourceError(t *testing.T) {
	boom := fmt.Errorf("disk on fire")
	z := newQuoteFixer(io.MultiReader(strings.NewReader("1,a\n2,\"b\n"), iotest.ErrReader(boom)), ',', true)
	got, err := io.ReadAll(z)
	if err != boom {
		t.Errorf("error %v, want %v", err, boom)
	}
	if string(got) != "1,a\n2,b\n" {
		t.Errorf("got %q before the error", got)
	}
}

// TestQuoteFixerLogs checks the warnings: one per row with a stray quote and
// per multi-line cell, the first maxQuoteWarnings of each, then a count.
func TestQuoteFixerLogs(t *testing.T) {
	var b strings.Builder
	b.WriteString("ICCID,Label\n")
	for i := range 8 {
		fmt.Fprintf(&b, "%s,\"%d\" x,\"y\n", iccidN(i), i) // two strays, one warning
	}
	for i := range 6 {
		fmt.Fprintf(&b, "%s,\"two\nlines\"\n", iccidN(100+i))
	}
	var logs bytes.Buffer
	rd, err := NewReader(strings.NewReader(b.String()), ReaderOptions{Name: "f.csv", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := rd.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for l := range strings.Lines(logs.String()) {
		_, msg, _ := strings.Cut(l, "level=WARN ")
		if msg != "" {
			got = append(got, strings.TrimSpace(msg))
		}
	}
	want := []string{
		`msg="row 2: a quote opened in column 2 runs past the end of its line with a stray quote in it; read as text" file=f.csv row=2 line=2 column=2`,
		`msg="row 3: a quote opened in column 2 runs past the end of its line with a stray quote in it; read as text" file=f.csv row=3 line=3 column=2`,
		`msg="row 4: a quote opened in column 2 runs past the end of its line with a stray quote in it; read as text" file=f.csv row=4 line=4 column=2`,
		`msg="row 5: a quote opened in column 2 runs past the end of its line with a stray quote in it; read as text" file=f.csv row=5 line=5 column=2`,
		`msg="row 6: a quote opened in column 2 runs past the end of its line with a stray quote in it; read as text" file=f.csv row=6 line=6 column=2`,
		`msg="row 10: a quoted cell in column 2 spans 2 lines; read as one row (check that it does not join rows)" file=f.csv row=10 line=10 column=2`,
		`msg="row 11: a quoted cell in column 2 spans 2 lines; read as one row (check that it does not join rows)" file=f.csv row=11 line=12 column=2`,
		`msg="row 12: a quoted cell in column 2 spans 2 lines; read as one row (check that it does not join rows)" file=f.csv row=12 line=14 column=2`,
		`msg="row 13: a quoted cell in column 2 spans 2 lines; read as one row (check that it does not join rows)" file=f.csv row=13 line=16 column=2`,
		`msg="row 14: a quoted cell in column 2 spans 2 lines; read as one row (check that it does not join rows)" file=f.csv row=14 line=18 column=2`,
		`msg="quoting problems in the file, not all listed one by one" file=f.csv rows_with_stray_quotes=8 multiline_cells=6`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// FuzzQuoteFixer checks that the fixer only ever drops quote bytes, keeps
// every line, agrees with its slow reference (no shortcuts), and leaves no
// quoted cell that encoding/csv would read across more than maxCellLines
// lines.
func FuzzQuoteFixer(f *testing.F) {
	for _, s := range []string{
		"1,\"unclosed label\n2,dev\n",
		"\"1\";\"12\" display\r\n\"2\";\"dev\"\r\n",
		"\"a,\"b,\"c\nd\n",
		"1,\"\"\"a\n2\n",
		"\"a\nb\",\"c\nd\"\n2\n",
		"1,\"a\"\"\n2,x\n\"",
		"x,\"a\r\n\r\n\"\"b\"\r",
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, final bool) {
		for _, delim := range []rune{',', ';', '§'} {
			fast, fs := fixQuotes(t, string(data), delim, final, false)
			z := newQuoteFixer(bytes.NewReader(data), delim, final) // src's usual buffer
			if out, err := io.ReadAll(z); err != nil || string(out) != fast {
				t.Fatalf("delim %q: with a 4 KB buffer %q, %v; with 16 bytes %q", delim, out, err, fast)
			}
			if len(data) <= 4<<10 { // the reference takes the square of a line's length
				slow, ss := fixQuotes(t, string(data), delim, final, true)
				if fast != slow || !slices.Equal(fs, ss) {
					t.Fatalf("delim %q: fast %q %q, slow %q %q", delim, fast, fs, slow, ss)
				}
			}
			if got, want := strings.Count(fast, "\n"), bytes.Count(data, []byte("\n")); got != want {
				t.Fatalf("delim %q: %d lines, input has %d", delim, got, want)
			}
			if got, want := strings.ReplaceAll(fast, `"`, ""), strings.ReplaceAll(string(data), `"`, ""); got != want || len(data)-len(fast) != len(fs) {
				t.Fatalf("delim %q: %q is not %q less %d quotes", delim, fast, data, len(fs))
			}
			if !final {
				continue
			}
			cr := csv.NewReader(strings.NewReader(fast))
			cr.Comma, cr.LazyQuotes, cr.FieldsPerRecord = delim, true, -1
			for {
				rec, err := cr.Read()
				if err != nil {
					break
				}
				for i, cell := range rec {
					if n := strings.Count(cell, "\n"); n >= maxCellLines {
						t.Fatalf("delim %q: field %d of %q spans %d lines", delim, i, rec, n+1)
					}
				}
			}
		}
	})
}
