package main

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/simreset/simreset/batch"
)

func TestICCIDIsValidAndLuhnChecked(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		serial int
		want   string
	}{
		// Check digits from gen_large.py's luhn_digit, an independent implementation.
		{DefaultPrefix, 10_000_001, "89882470000100000013"},
		{DefaultPrefix, 10_000_002, "89882470000100000021"},
		{"89", 0, "89000000000000000004"},
	} {
		got := string(ICCID(nil, tc.prefix, 19-len(tc.prefix), tc.serial))
		if got != tc.want {
			t.Errorf("ICCID(%s, %d): got %s, want %s", tc.prefix, tc.serial, got, tc.want)
		}
		if err := batch.ValidateICCID(got); err != nil || !batch.LuhnValid(got) {
			t.Errorf("%s: ValidateICCID %v, LuhnValid %v; want valid", got, err, batch.LuhnValid(got))
		}
	}
}

// TestGenerateMatchesTheReader reads the generated files with the real reader:
// the summary Generate returns is what a dry run reports.
func TestGenerateMatchesTheReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want Summary
	}{
		{"clean", Options{Rows: 3000, Prefix: DefaultPrefix, Start: DefaultStart},
			Summary{Rows: 3000, DistinctValid: 3000}},
		{"dirty", Options{Rows: 100_003, Prefix: DefaultPrefix, Start: DefaultStart, Dirty: true},
			Summary{Rows: 100_003, DistinctValid: 99_902, Duplicates: 100, Invalid: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			got, err := Generate(&buf, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("summary: got %+v, want %+v", got, tc.want)
			}
			rd, err := batch.NewReader(&buf, batch.ReaderOptions{Name: tc.name + ".csv", Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			var read Summary
			for {
				rec, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				read.Rows++
				switch rec.Outcome {
				case "":
					read.DistinctValid++
				case batch.OutcomeDuplicate:
					read.Duplicates++
				case batch.OutcomeInvalid:
					read.Invalid++
				default:
					t.Errorf("row %d: outcome %q", rec.Row, rec.Outcome)
				}
			}
			if read != tc.want {
				t.Errorf("read back: got %+v, want %+v", read, tc.want)
			}
		})
	}
}

func TestGenerateRefusesBadOptions(t *testing.T) {
	for _, opt := range []Options{
		{Rows: -1, Prefix: DefaultPrefix},
		{Rows: 1, Prefix: "12345"},
		{Rows: 1, Prefix: "89ab"},
		{Rows: 10, Prefix: "8912345678901", Start: 0},
		{Rows: 10, Prefix: "891234567890", Start: 9_999_999},
	} {
		if _, err := Generate(io.Discard, opt); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: got %v, want ErrOptions", opt, err)
		}
	}
}
