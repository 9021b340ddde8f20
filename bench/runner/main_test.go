package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTimeV(t *testing.T) {
	for _, tc := range []struct {
		name, report string
		rss          int64
		wall         time.Duration
		exit         int
		ok           bool
	}{
		{"m:ss", "\tCommand being timed: \"simreset reset --dry-run large.csv\"\n" +
			"\tElapsed (wall clock) time (h:mm:ss or m:ss): 0:02.25\n" +
			"\tMaximum resident set size (kbytes): 47412\n\tExit status: 1\n",
			47412, 2250 * time.Millisecond, 1, true},
		{"h:mm:ss", "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:03\n" +
			"\tMaximum resident set size (kbytes): 10\n\tExit status: 0\n",
			10, time.Hour + 2*time.Minute + 3*time.Second, 0, true},
		{"not a report", "Command terminated by signal 9\n", 0, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "time.txt")
			if err := os.WriteFile(path, []byte(tc.report), 0o644); err != nil {
				t.Fatal(err)
			}
			rss, wall, exit, err := parseTimeV(path)
			if (err == nil) != tc.ok {
				t.Fatalf("error %v, want ok=%v", err, tc.ok)
			}
			if rss != tc.rss || wall != tc.wall || exit != tc.exit {
				t.Errorf("got %d KiB %v exit %d, want %d KiB %v exit %d", rss, wall, exit, tc.rss, tc.wall, tc.exit)
			}
		})
	}
}

func TestCheckAndVerdict(t *testing.T) {
	ok := phase{stats: stats{Requests: 10}, ok: 10}
	for _, tc := range []struct {
		name    string
		p       phase
		problem string
		met     bool
		verdict string
	}{
		{"clean and met", ok, "", true, "yes"},
		{"clean, missed", ok, "", false, "**no**"},
		{"lost requests", phase{stats: stats{Requests: 9}, ok: 9}, "the server saw 9 requests, not 10", true, "**no** (invalid run)"},
		{"failed answers", phase{stats: stats{Requests: 10}, ok: 8, notOK: 2}, "2 answers were not 2xx", true, "**no** (invalid run)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(tc.p, 10)
			if got != tc.problem {
				t.Errorf("check: got %q, want %q", got, tc.problem)
			}
			if v := verdict(tc.met, got); v != tc.verdict {
				t.Errorf("verdict: got %q, want %q", v, tc.verdict)
			}
		})
	}
}

func TestMedianAndFormats(t *testing.T) {
	ps := []phase{{stats: stats{Rate: 30}}, {stats: stats{Rate: 10}}, {stats: stats{Rate: 20}}}
	if got := median(ps).Rate; got != 20 {
		t.Errorf("median: got %v, want 20", got)
	}
	if ps[0].Rate != 30 {
		t.Error("median reordered its argument")
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 19968: "19,968", 1000000: "1,000,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d): got %q, want %q", n, got, want)
		}
	}
	if got := mib(65536); got != "64.0 MiB" {
		t.Errorf("mib: got %q", got)
	}
}

func TestWriteICCIDs(t *testing.T) {
	dir := t.TempDir()
	fleet, ids := filepath.Join(dir, "f.csv"), filepath.Join(dir, "f.iccids.txt")
	os.WriteFile(fleet, []byte("ICCID,Label,Notes\n89882470000100000013,asset-1,ok\n89882470000100000021,asset-2,ok\n"), 0o644)
	if err := writeICCIDs(fleet, ids); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(ids)
	if want := "89882470000100000013\n89882470000100000021\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := idsPath(fleet); !strings.HasSuffix(got, "f.iccids.txt") {
		t.Errorf("idsPath: %q", got)
	}
}
