// Command genfleet writes a made-up fleet export for the benchmark: a CSV with
// the header "ICCID,Label,Notes" and one SIM per row, whose ICCIDs are 20
// digits, start with 89 and pass the Luhn check. It is deterministic: the same
// flags give the same file.
//
//	genfleet -n 20000 -o fleet.csv             distinct, valid SIMs only
//	genfleet -n 1000000 -dirty -o large.csv    with repeats, damaged cells and long lines
//
// With -dirty, as ../shared/cases/15-large-file-long-line/gen_large.py does,
// every 1000th row repeats the ICCID of the row 500 rows earlier, every
// 250,000th row has a 70,000-character Notes cell, and every 100,003rd row has
// an Excel-damaged ICCID (8.98829E+19). It prints one JSON line on stderr with
// what a --dry-run of the file must report: rows, distinct_valid, duplicates,
// invalid.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/simreset/simreset/batch"
)

// Defaults of the flags.
const (
	// DefaultPrefix is the issuer prefix of the made-up ICCIDs. It is not the
	// prefix `simreset mock-api` answers 404 by default (8988299000999).
	DefaultPrefix = "8988247"
	// DefaultStart is the serial number of the first row's ICCID.
	DefaultStart = 10_000_000
)

// The -dirty pattern, as gen_large.py has it.
const (
	repeatEvery  = 1000    // this row repeats an earlier ICCID...
	repeatBack   = 500     // ...of the row this many rows earlier
	longEvery    = 250_000 // this row has a long Notes cell
	longNoteSize = 70_000
	damagedEvery = 100_003 // this row has an ICCID cut by a spreadsheet
	damagedCell  = "8.98829E+19"
)

// Options say what to generate.
type Options struct {
	Rows   int    // data rows
	Prefix string // issuer prefix, digits; the serial fills the ICCID to 19 digits before the check digit
	Start  int    // serial of the first row
	Dirty  bool   // add repeats, damaged cells and long lines
}

// Summary is what a --dry-run of the generated file must report.
type Summary struct {
	Rows          int `json:"rows"`
	DistinctValid int `json:"distinct_valid"`
	Duplicates    int `json:"duplicates"`
	Invalid       int `json:"invalid"`
}

// ErrOptions is wrapped by every error about the options.
var ErrOptions = errors.New("genfleet")

func main() {
	var opt Options
	out := flag.String("o", "-", "output file; - = stdout")
	flag.IntVar(&opt.Rows, "n", 20_000, "data rows")
	flag.StringVar(&opt.Prefix, "prefix", DefaultPrefix, "issuer prefix of the ICCIDs (digits, starting with 89)")
	flag.IntVar(&opt.Start, "start", DefaultStart, "serial number of the first row")
	flag.BoolVar(&opt.Dirty, "dirty", false, "add repeats, damaged ICCIDs and long lines, like gen_large.py")
	flag.Parse()
	if err := run(*out, opt); err != nil {
		fmt.Fprintln(os.Stderr, "genfleet:", err)
		os.Exit(2)
	}
}

func run(path string, opt Options) (err error) {
	w := io.Writer(os.Stdout)
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("closing %s: %w", path, cerr)
			}
		}()
		w = f
	}
	sum, err := Generate(w, opt)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return json.NewEncoder(os.Stderr).Encode(sum)
}

// Generate writes the fleet file that opt describes to w and returns what a dry
// run of it must report.
func Generate(w io.Writer, opt Options) (Summary, error) {
	if opt.Rows < 0 || opt.Start < 0 {
		return Summary{}, fmt.Errorf("%w: -n and -start cannot be negative", ErrOptions)
	}
	if !strings.HasPrefix(opt.Prefix, "89") || strings.Trim(opt.Prefix, "0123456789") != "" || len(opt.Prefix) > 12 {
		return Summary{}, fmt.Errorf("%w: prefix %q must be at most 12 digits starting with 89", ErrOptions, opt.Prefix)
	}
	width := 19 - len(opt.Prefix)
	if last := opt.Start + opt.Rows; len(strconv.Itoa(last)) > width {
		return Summary{}, fmt.Errorf("%w: serial %d does not fit in %d digits after prefix %q", ErrOptions, last, width, opt.Prefix)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	long := strings.Repeat("AbCdEfGhIj0123456789+/", longNoteSize/22+1)[:longNoteSize]
	sum := Summary{Rows: opt.Rows}
	bw.WriteString("ICCID,Label,Notes\n")
	var cell []byte
	for i := 1; i <= opt.Rows; i++ {
		serial := opt.Start + i
		switch {
		case opt.Dirty && i%damagedEvery == 0:
			cell = append(cell[:0], damagedCell...)
			sum.Invalid++
		case opt.Dirty && i%repeatEvery == 0:
			// The row repeatBack rows earlier is never itself a repeat or
			// damaged (repeatBack is not a multiple of either), so this is a
			// duplicate of a valid SIM.
			cell = ICCID(cell[:0], opt.Prefix, width, serial-repeatBack)
			sum.Duplicates++
		default:
			cell = ICCID(cell[:0], opt.Prefix, width, serial)
			sum.DistinctValid++
		}
		note := "ok"
		if opt.Dirty && i%longEvery == 0 {
			note = long
		}
		bw.Write(cell)
		bw.WriteString(",asset-")
		bw.WriteString(strconv.Itoa(i))
		bw.WriteByte(',')
		bw.WriteString(note)
		bw.WriteByte('\n')
	}
	return sum, bw.Flush()
}

// ICCID appends to dst the ICCID made of prefix, serial zero-padded to width
// digits, and the Luhn check digit.
func ICCID(dst []byte, prefix string, width, serial int) []byte {
	start := len(dst)
	dst = append(dst, prefix...)
	s := strconv.Itoa(serial)
	for range width - len(s) {
		dst = append(dst, '0')
	}
	dst = append(dst, s...)
	return append(dst, batch.LuhnDigit(dst[start:]))
}
