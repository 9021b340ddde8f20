package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/transform"
)

// caseFile is one run of expected.json: the shared cases' format (see
// testdata/cases/README.md), plus the fields our own cases add: file (when
// one input is run with several options), options, error, column, and per
// row first_row and message.
type caseFile struct {
	File    string `json:"file"`
	Options struct {
		Column string `json:"column"`
		Strict bool   `json:"strict"`
	} `json:"options"`
	Error        string    `json:"error"`
	Column       string    `json:"column"`
	Rows         []caseRow `json:"rows"`
	MustCall     []string  `json:"must_call"`
	MayCall      []string  `json:"may_call"`
	MustNotCall  []string  `json:"must_not_call"`
	Alternatives string    `json:"alternatives"`
	Counts       *struct {
		Invalid   int `json:"invalid"`
		Duplicate int `json:"duplicate"`
	} `json:"expected_counts"`
}

type caseRow struct {
	Row      int    `json:"row"`
	Line     int    `json:"line"`
	Raw      string `json:"raw"`
	Expect   string `json:"expect"`
	ICCID    string `json:"iccid"`
	FirstRow int    `json:"first_row"`
	Message  string `json:"message"`
}

// TestCases runs every input under testdata/cases against its expected.json:
// must_call exactly once each, must_not_call never, every row's outcome.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "testdata", "cases", "*", "expected.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases found: %v", err)
	}
	for _, exp := range dirs {
		dir := filepath.Dir(exp)
		var doc struct {
			Files map[string]caseFile `json:"files"`
		}
		data, err := os.ReadFile(exp)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", exp, err)
		}
		names := make([]string, 0, len(doc.Files))
		for name := range doc.Files {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			cf := doc.Files[name]
			file := cf.File
			if file == "" {
				file = name
			}
			opts := ReaderOptions{Name: file, Column: cf.Options.Column, Strict: cf.Options.Strict}
			t.Run(filepath.Base(dir)+"/"+name, func(t *testing.T) {
				checkCase(t, filepath.Join(dir, file), opts, cf)
			})
			if strings.Contains(cf.Alternatives, "--column sim") {
				// The hologram export: found by content above, and by name here.
				opts.Column = "sim"
				t.Run(filepath.Base(dir)+"/"+name+" --column sim", func(t *testing.T) {
					cf.Column = `"sim" (column 3)`
					checkCase(t, filepath.Join(dir, file), opts, cf)
				})
			}
		}
	}
}

func checkCase(t *testing.T, path string, opts ReaderOptions, cf caseFile) {
	t.Helper()
	in, err := OpenInput(path, nil, opts)
	if cf.Error != "" {
		if err == nil {
			in.Close()
			t.Fatalf("OpenInput: no error, want one containing %q", cf.Error)
		}
		checkUnusable(t, err, opts.Name, cf.Error)
		return
	}
	if err != nil {
		t.Fatalf("OpenInput: %v", err)
	}
	defer in.Close()
	var recs []Record
	for {
		rec, err := in.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		recs = append(recs, rec)
	}
	if got, want := in.Total(), len(recs); got != want {
		t.Errorf("Total() = %d, Next yielded %d", got, want)
	}
	if cf.Column != "" {
		if got := in.Column(); got != cf.Column {
			t.Errorf("Column() = %q, want %q", got, cf.Column)
		}
	}
	checkRecords(t, recs, cf)

	// A single pass over the same bytes must agree with OpenInput's two.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if single := readAll(t, bytes.NewReader(data), opts); !slices.Equal(single, recs) {
		t.Errorf("NewReader in one pass differs from OpenInput:\n one pass: %+v\n two:      %+v", single, recs)
	}
}

func checkRecords(t *testing.T, recs []Record, cf caseFile) {
	t.Helper()
	byRow := map[int]Record{}
	calls := map[string]int{}
	invalid, dups := 0, 0
	for _, rec := range recs {
		if _, ok := byRow[rec.Row]; ok {
			t.Errorf("two records for row %d", rec.Row)
		}
		byRow[rec.Row] = rec
		switch rec.Outcome {
		case "":
			calls[rec.ICCID]++
			if err := ValidateICCID(rec.ICCID); err != nil {
				t.Errorf("row %d: %q would be sent but %v", rec.Row, rec.ICCID, err)
			}
		case OutcomeInvalid:
			invalid++
		case OutcomeDuplicate:
			dups++
		}
		if strings.IndexFunc(rec.Message, unicode.IsControl) >= 0 || !utf8.ValidString(rec.Message) {
			t.Errorf("row %d: message %q has control characters or invalid UTF-8", rec.Row, rec.Message)
		}
	}
	listed := map[int]bool{}
	for _, want := range cf.Rows {
		listed[want.Row] = true
		rec, ok := byRow[want.Row]
		if want.Expect == "ignore" {
			if ok {
				t.Errorf("row %d: blank row yielded %+v", want.Row, rec)
			}
			continue
		}
		if !ok {
			t.Errorf("row %d (line %d, %q): no record, want %s", want.Row, want.Line, want.Raw, want.Expect)
			continue
		}
		if rec.Line != want.Line {
			t.Errorf("row %d: Line = %d, want %d", want.Row, rec.Line, want.Line)
		}
		if utf8.ValidString(rec.Raw) && rec.Raw != want.Raw {
			t.Errorf("row %d: Raw = %q, want %q", want.Row, rec.Raw, want.Raw)
		}
		switch want.Expect {
		case "call", "call-or-invalid": // we prefer sending the normalised value
			if rec.Outcome != "" || rec.ICCID != want.ICCID {
				t.Errorf("row %d: got %q %q (%s), want call with %q", want.Row, rec.Outcome, rec.ICCID, rec.Message, want.ICCID)
			}
		case "invalid":
			if rec.Outcome != OutcomeInvalid || rec.ICCID != "" || rec.Message == "" {
				t.Errorf("row %d: got %q %q (%s), want invalid with a reason", want.Row, rec.Outcome, rec.ICCID, rec.Message)
			}
		case "duplicate":
			if rec.Outcome != OutcomeDuplicate || !strings.HasPrefix(rec.Message, "repeat of row ") {
				t.Errorf("row %d: got %q (%s), want duplicate", want.Row, rec.Outcome, rec.Message)
			}
		default:
			t.Fatalf("row %d: unknown expect %q", want.Row, want.Expect)
		}
		switch {
		case want.Message != "":
			if rec.Message != want.Message {
				t.Errorf("row %d: Message = %q, want %q", want.Row, rec.Message, want.Message)
			}
		case want.Expect == "call" && rec.Message != "":
			t.Errorf("row %d: unexpected message %q", want.Row, rec.Message)
		}
	}
	for _, rec := range recs {
		if !listed[rec.Row] {
			t.Errorf("record for unlisted row %d: %+v", rec.Row, rec)
		}
	}
	for _, iccid := range cf.MustCall {
		if n := calls[iccid]; n != 1 {
			t.Errorf("%s sent %d times, want once", iccid, n)
		}
	}
	for iccid := range calls {
		if !slices.Contains(cf.MustCall, iccid) && !slices.Contains(cf.MayCall, iccid) {
			t.Errorf("%s sent but not expected", iccid)
		}
	}
	for _, iccid := range cf.MustNotCall {
		if calls[iccid] > 0 {
			t.Errorf("%q must never be sent", iccid)
		}
	}
	if cf.Counts != nil {
		if invalid != cf.Counts.Invalid || dups != cf.Counts.Duplicate {
			t.Errorf("invalid, duplicate = %d, %d; want %d, %d", invalid, dups, cf.Counts.Invalid, cf.Counts.Duplicate)
		}
	}
}

// checkUnusable asserts an error that stops the run: it wraps
// ErrUnusableInput, names the file first, and says what is wrong.
func checkUnusable(t *testing.T, err error, name, want string) {
	t.Helper()
	if !errors.Is(err, ErrUnusableInput) {
		t.Errorf("error %v does not wrap ErrUnusableInput", err)
	}
	if !strings.HasPrefix(err.Error(), displayName(name)+": ") {
		t.Errorf("error %q does not start with the file name %q", err, name)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\ndoes not contain %q", err, want)
	}
}

func readAll(t *testing.T, r io.Reader, opts ReaderOptions) []Record {
	t.Helper()
	rd, err := NewReader(r, opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var recs []Record
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		recs = append(recs, rec)
	}
}

// TestReaderRows checks row and line numbering and outcomes on small inputs
// written inline: each want line is "row line outcome iccid-or-message".
func TestReaderRows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		opts  ReaderOptions
		want  []string
	}{
		{
			name:  "multi-line cell is one row",
			input: "ICCID,Note\n89882990000000001013,\"a\nb\nc\"\n\n89882990000000001039,x\n",
			want:  []string{"2 2 - 89882990000000001013", "4 6 - 89882990000000001039"},
		},
		{
			name:  "multi-line cell in the ICCID column",
			input: "Note,ICCID\n\"a\nb\",89882990000000001013\nx,89882990000000001039\n",
			want:  []string{"2 2 - 89882990000000001013", "3 4 - 89882990000000001039"},
		},
		{
			name:  "CRLF with blank lines",
			input: "ICCID\r\n\r\n\r\n89882990000000001013\r\n",
			want:  []string{"4 4 - 89882990000000001013"},
		},
		{
			name:  "lone CR, with a line break in a quoted cell and a blank line",
			input: "ICCID,Note\r89882990000000001013,\"a\rb\"\r\r89882990000000001039,x",
			want:  []string{"2 2 - 89882990000000001013", "4 5 - 89882990000000001039"},
		},
		{
			name:  "leading blank lines before the header count as rows",
			input: "\n\nICCID\n89882990000000001013\n",
			want:  []string{"4 4 - 89882990000000001013"},
		},
		{
			name:  "sep line is not a row",
			input: "sep=,\nICCID\n89882990000000001013\n",
			want:  []string{"2 3 - 89882990000000001013"},
		},
		{
			name:  "ragged short row without the ICCID column",
			input: "Label,ICCID\nx,89882990000000001013\nTotal\n",
			want:  []string{"2 2 - 89882990000000001013", "3 3 invalid no ICCID cell: the row has 1 cell, the ICCID is in column 2"},
		},
		{
			name:  "footers are not ICCIDs and no digits are taken from them",
			input: "ICCID\n89882990000000001013\nTotal: 1\nExported 2024-05-02\n(1 row)\n",
			want: []string{
				"2 2 - 89882990000000001013",
				`3 3 invalid "Total: 1": not an ICCID: expected 18 to 22 digits starting with 89`,
				`4 4 invalid "Exported 2024-05-02": not an ICCID: expected 18 to 22 digits starting with 89`,
				`5 5 invalid "(1 row)": not an ICCID: expected 18 to 22 digits starting with 89`,
			},
		},
		{
			name:  "too short, wrong prefix, too long",
			input: "ICCID\n8988299000000\n12345678901234567890\n89882990000000000101300\n",
			want: []string{
				`2 2 invalid "8988299000000": too short for an ICCID: 13 digits, expected 18 to 22`,
				`3 3 invalid "12345678901234567890": not an ICCID: an ICCID starts with 89`,
				`4 4 invalid "89882990000000000101300": too long for an ICCID: 23 digits, expected 18 to 22`,
			},
		},
		{
			name:  "a long value is shortened in the message",
			input: "ICCID\n" + strings.Repeat("x", 100) + "\n",
			want:  []string{`2 2 invalid "` + strings.Repeat("x", 40) + `...": not an ICCID: expected 18 to 22 digits starting with 89`},
		},
		{
			name:  "Excel formula wrappers",
			input: "ICCID\n=\"89882990000000001013\"\n\"=\"\"89882990000000001039\"\"\"\n=89882990000000001047\n",
			want:  []string{"2 2 - 89882990000000001013", "3 3 - 89882990000000001039", "4 4 - 89882990000000001047"},
		},
		{
			name:  "column by position on a headerless file",
			input: "cam-1;89882990000000001013\ncam-2;89882990000000001039\n",
			opts:  ReaderOptions{Column: "2"},
			want:  []string{"1 1 - 89882990000000001013", "2 2 - 89882990000000001039"},
		},
		{
			name:  "column by position with a header",
			input: "a,b\nx,89882990000000001013\n",
			opts:  ReaderOptions{Column: "2"},
			want:  []string{"2 2 - 89882990000000001013"},
		},
		{
			name:  "column by name, matched without case and punctuation",
			input: "id,SIM-Nr.,ICCID\n1,89882990000000001013,x\n",
			opts:  ReaderOptions{Column: "sim nr"},
			want:  []string{"2 2 - 89882990000000001013"},
		},
		{
			name:  "headerless two columns found by content",
			input: "89882990000000001013,cam-1\n89882990000000001039,cam-2\n",
			want:  []string{"1 1 - 89882990000000001013", "2 2 - 89882990000000001039"},
		},
		{
			name:  "tab set by a sep line",
			input: "sep=\t\r\nLabel\tICCID\r\nHalle 4, Tor 2\t89882990000000001013\r\n",
			want:  []string{"2 3 - 89882990000000001013"},
		},
		{
			name:  "a lone name mentioning ICCID whose cells are no ICCIDs gives way to content",
			input: "iccid_count,sim\n3,89882990000000001013\n",
			want:  []string{"2 2 - 89882990000000001013"},
		},
		{
			name:  "the only column whose name mentions ICCID",
			input: "id,ICCID (eUICC)\n1,89882990000000001013\n",
			want:  []string{"2 2 - 89882990000000001013"},
		},
		{
			name:  "a 70 KB line",
			input: "ICCID,Notes\n89882990000000001013," + strings.Repeat("n", 70000) + "\n89882990000000001039,x\n",
			want:  []string{"2 2 - 89882990000000001013", "3 3 - 89882990000000001039"},
		},
		{
			name:  "blank lines past the sniffed part still count as rows",
			input: "ICCID\n" + strings.Repeat("89882990000000001013\n", 3) + strings.Repeat("\n", sniffSize) + "89882990000000001039\n",
			want:  []string{"2 2 - 89882990000000001013", "3 3 duplicate repeat of row 2", "4 4 duplicate repeat of row 2", fmt.Sprintf("%d %d - 89882990000000001039", 5+sniffSize, 5+sniffSize)},
		},
		{
			name:  "an unclosed quote in a label does not swallow the rows below",
			input: "ICCID,Label\n89882990000000001013,\"unclosed label\n\n89882990000000001039,dev\n89882990000000001047,dev\n",
			want:  []string{"2 2 - 89882990000000001013", "4 4 - 89882990000000001039", "5 5 - 89882990000000001047"},
		},
		{
			name:  "a label opening with a quoted word, semicolons",
			input: "ICCID;Label\r\n89882990000000001013;\"12\" display\r\n89882990000000001039;dev\r\n",
			want:  []string{"2 2 - 89882990000000001013", "3 3 - 89882990000000001039"},
		},
		{
			name:  "a quoted file whose label lost its closing quote",
			input: "\"ICCID\",\"Label\"\n\"89882990000000001013\",\"Bob's meter, basement\n\"89882990000000001039\",\"dev\"\n",
			want:  []string{"2 2 - 89882990000000001013", "3 3 - 89882990000000001039"},
		},
		{
			name:  "a stray quote before the ICCID column splits the label",
			input: "Label,ICCID\n\"12\" display,89882990000000001013\n\"Bob's meter, basement,89882990000000001039\nx,89882990000000001047\n",
			want: []string{
				"2 2 - 89882990000000001013",
				`3 3 invalid "basement": not an ICCID: expected 18 to 22 digits starting with 89`,
				"4 4 - 89882990000000001047",
			},
		},
		{
			name:  "a stray quote in the ICCID cell makes that row invalid",
			input: "ICCID,Label\n89882990000000001013,a\n\"89882990000000001039,b\n89882990000000001047,c\n",
			want: []string{
				"2 2 - 89882990000000001013",
				`3 3 invalid "\"89882990000000001039": the ICCID cell opens a quote that is not closed on its line; fix the quotes on this row`,
				"4 4 - 89882990000000001047",
			},
		},
		{
			name:  "a stray quote on the last line, with no line break",
			input: "ICCID,Label\n89882990000000001013,a\n89882990000000001039,\"last",
			want:  []string{"2 2 - 89882990000000001013", "3 3 - 89882990000000001039"},
		},
		{
			name:  "a real multi-line cell, then a stray quote",
			input: "ICCID,Label\n89882990000000001013,\"one\ntwo\"\n89882990000000001039,\"open\n89882990000000001047,x\n",
			want:  []string{"2 2 - 89882990000000001013", "3 4 - 89882990000000001039", "4 5 - 89882990000000001047"},
		},
		{
			name:  "a quote left open in the header",
			input: "ICCID,\"Label\n89882990000000001013,a\n",
			want:  []string{"2 2 - 89882990000000001013"},
		},
		{
			name:  "a stray quote after a sep line",
			input: "sep=;\nICCID;Label\n89882990000000001013;\"open\n\n89882990000000001039;x\n",
			want:  []string{"2 3 - 89882990000000001013", "4 5 - 89882990000000001039"},
		},
		{
			name:  "NUL bytes past the start: harmless in a label, invalid in the ICCID cell",
			input: "ICCID,Label\n" + strings.Repeat("\n", nulWindow) + "89882990000000001013,la\x00bel\n89882990000000001039\x00,x\n8988299\x000000000001047,x\n",
			want: []string{
				fmt.Sprintf("%d %d - 89882990000000001013", nulWindow+2, nulWindow+2),
				fmt.Sprintf(`%d %d invalid "89882990000000001039\x00": the ICCID cell holds a NUL byte, a sign of a damaged file; check this row`, nulWindow+3, nulWindow+3),
				fmt.Sprintf(`%d %d invalid "8988299\x000000000001047": the ICCID cell holds a NUL byte, a sign of a damaged file; check this row`, nulWindow+4, nulWindow+4),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, rec := range readAll(t, strings.NewReader(tc.input), tc.opts) {
				what := rec.ICCID
				if rec.Outcome != "" {
					what = rec.Message
				}
				got = append(got, fmt.Sprintf("%d %d %s %s", rec.Row, rec.Line, orDash(string(rec.Outcome)), what))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(tc.want, "\n "))
			}
		})
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func TestICCIDName(t *testing.T) {
	for _, tc := range []struct {
		header        string
		common, loose bool
	}{
		{"ICCID", true, false},
		{"iccid", true, false},
		{"Iccid", true, false},
		{"ICCID ", true, false},
		{"\ufeffICCID", true, false},
		{"\u00a0ICCID\u00a0", true, false},
		{"SIM ICCID", true, false},
		{"ICCID number", true, false},
		{"sim_iccid", true, false},
		{"ICC-ID", true, false},
		{"ICCID No.", true, false},
		{"ICCID (SIM)", true, false},
		{"iccidNumber", true, false},
		{"iccid_with_luhn", false, true},
		{"Old ICCID", false, true},
		{"ICC", false, true},
		{"simId", false, false},
		{"sim", false, false},
		{"IMSI", false, false},
		{"", false, false},
	} {
		common, loose := iccidName(tc.header)
		if common != tc.common || loose != tc.loose {
			t.Errorf("iccidName(%q) = %v, %v; want %v, %v", tc.header, common, loose, tc.common, tc.loose)
		}
	}
}

// TestUnusable covers inputs that stop the run before any request.
func TestUnusable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		opts  ReaderOptions
		want  string
	}{
		{"NUL bytes", "ICCID\n8988\x00\x00\x00\n", ReaderOptions{}, "looks like binary data, not CSV text (a NUL byte at byte 11 of the text, within its first 512 bytes)"},
		{"many control bytes", "ICCID\n\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\n", ReaderOptions{}, "looks like binary data, not CSV text (0 NUL and 10 other control bytes in the first 17 bytes of the text, 58.8%)"},
		{"an executable", "\x7fELF\x02\x01\x01\x00\x00\x00", ReaderOptions{}, "(a NUL byte at byte 8 of the text"},
		{"NUL bytes past the start, a real share", "ICCID\n" + strings.Repeat("89882990000000001013\n", 50) + strings.Repeat("\x00", 20) + "\n", ReaderOptions{},
			"(20 NUL and 0 other control bytes in the first 1077 bytes of the text, 1.9%)"},
		{"old Excel workbook", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", ReaderOptions{}, "is an old Excel .xls workbook"},
		{"empty", "", ReaderOptions{}, "is empty"},
		{"only a header", "ICCID\n", ReaderOptions{}, "but no SIM rows below it"},
		{"header only with preamble", "Export\nICCID\n", ReaderOptions{}, "but no SIM rows below it"},
		{"no line break in the first megabyte", strings.Repeat("x", sniffSize+10), ReaderOptions{}, "has no line break"},
		{"column position 0", "ICCID\n89882990000000001013\n", ReaderOptions{Column: "0"}, "--column 0: positions start at 1"},
		{"two columns hold ICCIDs and neither is named", "a,b\n89882990000000001013,89882990000000001039\n", ReaderOptions{},
			`found 2 columns holding ICCIDs from row 2: "a" (column 1), "b" (column 2); say which one to use with --column N (1-based position), e.g. --column 1`},
		{"two unnamed columns hold ICCIDs", "89882990000000001013;89882990000000001039\n", ReaderOptions{},
			`found 2 columns holding ICCIDs from row 1: column 1, column 2; say which one`},
		{"column name twice", "sim,sim\n89882990000000001013,89882990000000001039\n", ReaderOptions{Column: "SIM"},
			`found 2 columns named "SIM" in the header on row 1: "sim" (column 1), "sim" (column 2); say which one to use with --column N`},
		{"named stdin", "", ReaderOptions{Name: "-"}, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tc.input), tc.opts)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			checkUnusable(t, err, tc.opts.Name, tc.want)
		})
	}
}

func TestOpenInputStdin(t *testing.T) {
	in, err := OpenInput("-", strings.NewReader("ICCID\n89882990000000001013\n89882990000000001013\n"), ReaderOptions{Name: "-"})
	if err != nil {
		t.Fatal(err)
	}
	tmp := in.tmp
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("no temporary copy: %v", err)
	}
	var got []string
	for {
		rec, err := in.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(rec.Outcome)+rec.Message)
	}
	if want := []string{"", "duplicaterepeat of row 2"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := in.Total(), 2; got != want {
		t.Errorf("Total() = %d, want %d", got, want)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary copy %s left behind: %v", tmp, err)
	}

	_, err = OpenInput("-", strings.NewReader(""), ReaderOptions{Name: "-"})
	checkUnusable(t, err, "-", "standard input: is empty")
}

// TestNULFarIntoTheFile reads a NUL in a label 260 KB into a file: one
// stray byte does not make a text file binary.
func TestNULFarIntoTheFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("ICCID,Label\n")
	n := 0
	for ; b.Len() < 400<<10; n++ {
		label := "dev"
		if n == 10_000 {
			label = "la\x00bel"
		}
		fmt.Fprintf(&b, "%s,%s\n", iccidN(n), label)
	}
	recs := readAll(t, strings.NewReader(b.String()), ReaderOptions{})
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	if rec := recs[10_000]; rec.Row != 10_002 || rec.Outcome != "" || rec.ICCID != iccidN(10_000) {
		t.Errorf("row with the NUL in its label: %+v, want it sent", rec)
	}
}

// TestOpenInputFIFO reads a named pipe, as a shell's <(...) gives one: it
// cannot seek, so it is copied first, and the copy is removed by Close.
func TestOpenInputFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.csv")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	const data = "ICCID,Label\n89882990000000001013,\"open\n89882990000000001039,x\n"
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, err := f.WriteString(data); err != nil {
			t.Error(err)
		}
	}()
	in, err := OpenInput(path, nil, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmp := in.tmp
	if tmp == "" {
		t.Fatal("no temporary copy of the pipe")
	}
	var got []string
	for {
		rec, err := in.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s", rec.Row, rec.ICCID))
	}
	if want := []string{"2 89882990000000001013", "3 89882990000000001039"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := in.Total(), 2; got != want {
		t.Errorf("Total() = %d, want %d", got, want)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary copy %s left behind: %v", tmp, err)
	}
}

// TestOpenInputWarnsOnce checks that of OpenInput's two passes, only the
// first logs the quoting problems, and both yield the same records.
func TestOpenInputWarnsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.csv")
	data := "ICCID,Label\n89882990000000001013,\"open\n89882990000000001039,\"a\nb\"\n89882990000000001047,x\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	in, err := OpenInput(path, nil, ReaderOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var rows []int
	for {
		rec, err := in.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rec.Row)
	}
	if want := []int{2, 3, 4}; !slices.Equal(rows, want) || in.Total() != 3 {
		t.Errorf("rows %v, Total() = %d; want %v, 3", rows, in.Total(), want)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Errorf("%d warnings, want 2 (one stray quote, one multi-line cell):\n%s", n, logs.String())
	}
}

// zeros reads as an endless run of NUL bytes, like /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestOpenInputEndlessBinary checks that copying standard input (or a
// device) stops at once on binary data instead of filling the disk.
func TestOpenInputEndlessBinary(t *testing.T) {
	_, err := OpenInput("-", zeros{}, ReaderOptions{Name: "-"})
	checkUnusable(t, err, "-", "standard input: is binary data (a NUL byte at byte 1, within the first 512 bytes), not a CSV text file")
	in, err := OpenInput("-", strings.NewReader("\xff\xfeI\x00C\x00C\x00I\x00D\x00\n\x008\x009\x008\x008\x002\x009\x009\x000\x000\x000\x000\x000\x000\x000\x000\x000\x001\x000\x001\x003\x00"), ReaderOptions{Name: "-"})
	if err != nil {
		t.Fatalf("UTF-16 on standard input: %v", err)
	}
	if err := in.Close(); err != nil {
		t.Error(err)
	}
}

func TestOpenInputUnreadable(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenInput(filepath.Join(dir, "missing.csv"), nil, ReaderOptions{})
	checkUnusable(t, err, filepath.Join(dir, "missing.csv"), "cannot open it")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%v does not wrap the cause", err)
	}
	_, err = OpenInput(dir, nil, ReaderOptions{Name: "fleet"})
	checkUnusable(t, err, "fleet", "is a directory")
}

// TestSurveySeesDamageBelow checks that OpenInput judges a value cut to 15
// digits by the damage it finds anywhere in the column, even past the part of
// the file a single pass sniffs.
func TestSurveySeesDamageBelow(t *testing.T) {
	const cut = "89882990000006500000" // passes Luhn: only other damage condemns it
	var b strings.Builder
	b.WriteString("ICCID,Notes\n" + cut + ",x\n")
	for i := 0; b.Len() < 2*sniffSize; i++ {
		fmt.Fprintf(&b, "%s,%s\n", iccidN(i), strings.Repeat("n", 200))
	}
	b.WriteString("8.98829E+19,x\n")
	path := filepath.Join(t.TempDir(), "fleet.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	in, err := OpenInput(path, nil, ReaderOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rec, err := in.Next()
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != OutcomeInvalid || !strings.Contains(rec.Message, "shows other spreadsheet damage (row ") {
		t.Errorf("first record = %+v, want invalid for other damage", rec)
	}
	if !strings.Contains(logs.String(), "ending in zeros after the 15th digit will be reported invalid") || !strings.Contains(logs.String(), "cut_values=1") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}

	single := readAll(t, strings.NewReader(b.String()), ReaderOptions{})
	if single[0].Outcome != "" {
		t.Errorf("one pass, first record = %+v, want it sent: the damage is past the sniffed part", single[0])
	}
}

// TestReaderLogs checks the notices an operator sees about the file.
func TestReaderLogs(t *testing.T) {
	for _, tc := range []struct {
		name, input, want string
	}{
		{"preamble", "Title\n\nICCID\n89882990000000001013\n", `msg="skipped lines above the header" file=f.csv lines=1 header_row=3 first_skipped="\"Title\""`},
		{"content", "sim,id\n89882990000000001013,1\n", `column="\"sim\" (column 1), found by its content"`},
		{"headerless", "89882990000000001013\n", `msg="the first row already holds an ICCID`},
		{"CR", "ICCID\r89882990000000001013\r", "CR alone"},
		{"sep", "sep=;\nICCID\n89882990000000001013\n", "delimiter=semicolon"},
		{"stray quote", "sep=,\nICCID,Label\n89882990000000001013,\"open\n89882990000000001039,x\n",
			`level=WARN msg="row 2: a quote opened in column 2 is never closed; read as text" file=f.csv row=2 line=3 column=2`},
		{"multi-line cell", "ICCID,Label\n89882990000000001013,\"one\ntwo\"\n",
			`level=WARN msg="row 2: a quoted cell in column 2 spans 2 lines; read as one row (check that it does not join rows)" file=f.csv row=2 line=2 column=2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			readAll(t, strings.NewReader(tc.input), ReaderOptions{Name: "f.csv", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if !strings.Contains(logs.String(), tc.want) {
				t.Errorf("logs\n%s\ndo not contain %s", logs.String(), tc.want)
			}
		})
	}
}

func TestCRToLF(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\rb\r", "a\nb\n"},
		{"a\r\nb\r\rc", "a\nb\n\nc"},
		{"\r", "\n"},
		{"", ""},
	} {
		if got, _, err := transform.String(crToLF{}, tc.in); err != nil || got != tc.want {
			t.Errorf("crToLF(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// Byte by byte, so that a CR ends every chunk but the last.
	var out bytes.Buffer
	r := transform.NewReader(iotest.OneByteReader(strings.NewReader("a\r\nb\rc\r\n")), crToLF{})
	if _, err := io.Copy(&out, r); err != nil || out.String() != "a\nb\nc\n" {
		t.Errorf("crToLF byte by byte = %q, %v", out.String(), err)
	}
}

// iccidN returns the n-th made-up, Luhn-correct 20-digit ICCID.
func iccidN(n int) string {
	body := fmt.Sprintf("8988299%012d", n)
	for d := '0'; d <= '9'; d++ {
		if v := body + string(d); LuhnValid(v) {
			return v
		}
	}
	panic("unreachable")
}

// BenchmarkReader reads a generated 100,000-row export.
func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("ICCID,IMSI,Label,Status\r\n")
	for i := range 100_000 {
		v := iccidN(i)
		if i%1000 == 999 {
			v = iccidN(i - 500)
		}
		fmt.Fprintf(&buf, "%s,90140051%07d,asset-%d,Active\r\n", v, i, i)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := NewReader(bytes.NewReader(data), ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100_000 {
			b.Fatalf("read %d records", n)
		}
	}
}

// TestDemoFleet pins the counts of testdata/fleet.csv that the demo and its
// documentation rely on.
func TestDemoFleet(t *testing.T) {
	in, err := OpenInput(filepath.Join("..", "testdata", "fleet.csv"), nil, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	counts := map[Outcome]int{}
	unknown, warnings := 0, 0
	for {
		rec, err := in.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		counts[rec.Outcome]++
		if rec.Outcome == "" && strings.HasPrefix(rec.ICCID, "8988299000999") {
			unknown++
		}
		if rec.Outcome == "" && rec.Message != "" {
			warnings++
		}
	}
	if got, want := in.Total(), 300; got != want {
		t.Errorf("Total() = %d, want %d", got, want)
	}
	if got, want := in.Column(), `"ICCID" (column 1)`; got != want {
		t.Errorf("Column() = %q, want %q", got, want)
	}
	want := map[Outcome]int{"": 291, OutcomeDuplicate: 5, OutcomeInvalid: 4}
	if !maps.Equal(counts, want) {
		t.Errorf("outcomes %v, want %v", counts, want)
	}
	if unknown != 10 || warnings != 0 {
		t.Errorf("%d unknown to the simulator and %d warnings, want 10 and 0", unknown, warnings)
	}
}

// TestAcceptanceFindings pins three mismatches an independent acceptance pass
// found: Luhn failures counted and logged once, a wrong --column N on a
// headerless file keeping row 1, and no "found by content" notice for a column
// its header names.
func TestAcceptanceFindings(t *testing.T) {
	open := func(t *testing.T, data string, opts ReaderOptions) (*Input, []Record, string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "fleet.csv")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		in, err := OpenInput(path, nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close() })
		var recs []Record
		for {
			rec, err := in.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
		return in, recs, logs.String()
	}

	t.Run("Luhn failures are counted and logged", func(t *testing.T) {
		data := "ICCID,Label\n89882990ABCDEF12345,hex\n89882990000700000605,bad\n89882990000700000612,ok\n89882990000700000613,bad\n"
		in, recs, logs := open(t, data, ReaderOptions{})
		if got := in.LuhnFailures(); got != 2 {
			t.Errorf("LuhnFailures() = %d, want 2 (a hex ICCID has no Luhn digit)", got)
		}
		if n := strings.Count(logs, "fail the Luhn check digit"); n != 1 || !strings.Contains(logs, "rows=2 first_row=3") {
			t.Errorf("want one warning naming 2 rows from row 3:\n%s", logs)
		}
		if recs[1].Outcome != "" || !strings.Contains(recs[1].Message, "sent anyway") {
			t.Errorf("row 3: %+v, want sent with a warning", recs[1])
		}
	})
	t.Run("a wrong --column N on a headerless file keeps row 1", func(t *testing.T) {
		data := "262011234567890,89882990000700000448,dev1\n262011234567891,89882990000700000455,dev2\n"
		_, recs, _ := open(t, data, ReaderOptions{Column: "1"})
		if len(recs) != 2 || recs[0].Row != 1 || recs[0].Outcome != OutcomeInvalid || recs[1].Row != 2 {
			t.Errorf("records %+v, want rows 1 and 2, both invalid (the IMSI column)", recs)
		}
	})
	t.Run("a title line mentioning ICCID above a named column", func(t *testing.T) {
		data := "ICCID export for org 42\n\nLabel,ICCID\nx,89882990000700000422\ny,89882990000700000430\n"
		in, recs, logs := open(t, data, ReaderOptions{})
		if len(recs) != 2 || recs[0].Row != 4 || recs[0].ICCID != "89882990000700000422" {
			t.Errorf("records %+v, want rows 4 and 5", recs)
		}
		if strings.Contains(logs, "no column is named ICCID") || strings.Contains(in.Column(), "by its content") {
			t.Errorf("the column is named ICCID, yet: %s\n%s", in.Column(), logs)
		}
	})
}
