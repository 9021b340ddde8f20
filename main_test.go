package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/simreset/simreset/batch"
	"github.com/simreset/simreset/batch/mockapi"
)

const testKey = "sk-test-0f1e2d3c4b5a"

// luhnICCID returns a made-up 19-digit ICCID with a correct check digit.
func luhnICCID(n int) string {
	body := fmt.Sprintf("898829900%09d", n)
	return body + string(batch.LuhnDigit(body))
}

// fleet writes a CSV export with n SIMs (and the given extra lines after them) and
// returns its path and the ICCIDs.
func fleet(t *testing.T, n int, extra ...string) (string, []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("ICCID,IMSI,Label\r\n")
	iccids := make([]string, n)
	for i := range iccids {
		iccids[i] = luhnICCID(i + 1)
		fmt.Fprintf(&b, "%s,2620100000%05d,Truck %d\r\n", iccids[i], i, i)
	}
	for _, line := range extra {
		b.WriteString(line + "\r\n")
	}
	path := filepath.Join(t.TempDir(), "fleet.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, iccids
}

// cliResult is what one run of the command left behind.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command in-process with MONOZ_API_KEY set to key.
func runCLI(t *testing.T, key string, signals chan os.Signal, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if signals == nil {
		signals = make(chan os.Signal)
	}
	code := run(args, env{
		stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, signals: signals,
		getenv: func(name string) string {
			if name == "MONOZ_API_KEY" {
				return key
			}
			return ""
		},
	})
	return cliResult{code, stdout.String(), stderr.String()}
}

// resultLines reads a result file into rows keyed by the row column.
func resultLines(t *testing.T, path string) (header []string, byRow map[string][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	byRow = map[string][]string{}
	for _, rec := range recs[1:] {
		if _, dup := byRow[rec[0]]; dup {
			t.Errorf("row %s has two lines", rec[0])
		}
		byRow[rec[0]] = rec
	}
	return recs[0], byRow
}

func newServer(t *testing.T, cfg mockapi.Config) *mockapi.Server {
	t.Helper()
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	if cfg.Org == "" {
		cfg.Org = "org-1"
	}
	srv := mockapi.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// fast are the reset flags of a quick run against srv.
func fast(srv *mockapi.Server, out string) []string {
	return []string{"--org", "org-1", "--base-url", srv.URL(), "--out", out,
		"--rate", "0", "--workers", "8", "--timeout", "2s", "--max-wait", "1s", "--progress", "off"}
}

func TestResetWritesOneCorrectLinePerRecord(t *testing.T) {
	path, iccids := fleet(t, 12,
		iccidLine(luhnICCID(3)),           // row 14: a repeat of row 4
		iccidLine("8.98829E+18"),          // row 15: spreadsheet damage
		iccidLine("Total"),                // row 16: a footer
		iccidLine("'"+luhnICCID(900)+" "), // row 17: apostrophe and space: normalised, sent
	)
	unknown := iccids[5]
	srv := newServer(t, mockapi.Config{Unknown: func(iccid string) bool { return iccid == unknown }})
	out := filepath.Join(t.TempDir(), "results.csv")
	res := runCLI(t, testKey, nil, append([]string{"reset"}, append(fast(srv, out), path)...)...)
	if res.code != exitSomeFailed {
		t.Fatalf("exit %d, want %d (a 404 and invalid rows); stderr:\n%s", res.code, exitSomeFailed, res.stderr)
	}
	header, rows := resultLines(t, out)
	if got, want := strings.Join(header, ","), "row,iccid,outcome,status_code,message,attempts,duration_ms,finished_at"; got != want {
		t.Errorf("header %q, want %q", got, want)
	}
	if len(rows) != 16 {
		t.Errorf("%d result lines, want 16 (one per non-blank record)", len(rows))
	}
	for i, iccid := range append(iccids, luhnICCID(900)) {
		if n := srv.Calls(iccid); n != 1 {
			t.Errorf("%s called %d times, want 1", iccid, n)
		}
		row := strconv.Itoa(i + 2)
		if i == 12 {
			row = "17"
		}
		want := []string{row, iccid, "reset", "200", "UpdateSuccess", "1"}
		if iccid == unknown {
			want = []string{row, iccid, "failed", "404", "ICCID not found", "1"}
		}
		if got := rows[row]; len(got) < 6 || strings.Join(got[:6], "|") != strings.Join(want, "|") {
			t.Errorf("row %s: got %q, want %q", row, got, want)
		}
	}
	for row, want := range map[string][2]string{
		"14": {"duplicate", "row 4"},
		"15": {"invalid", "scientific notation"},
		"16": {"invalid", ""},
	} {
		got := rows[row]
		if got[2] != want[0] || !strings.Contains(got[4], want[1]) || got[3] != "" || got[5] != "0" {
			t.Errorf("row %s: got %q, want %s mentioning %q, no status, 0 attempts", row, got, want[0], want[1])
		}
	}
	if got, want := srv.Total(), 13; got != want {
		t.Errorf("server saw %d requests, want %d", got, want)
	}
}

func iccidLine(v string) string { return v + ",," }

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		cfg    mockapi.Config
		key    string
		extra  []string
		flags  []string
		want   int
		called bool // whether any request may reach the API
	}{
		{name: "all reset", want: exitOK, called: true},
		{name: "an invalid row", extra: []string{iccidLine("12345")}, want: exitSomeFailed, called: true},
		{name: "a failed SIM", cfg: mockapi.Config{Unknown: func(string) bool { return true }}, want: exitSomeFailed, called: true},
		{name: "wrong key", key: "wrong", want: exitBreaker, called: true},
		{name: "API down", cfg: mockapi.Config{Fail503: 1}, flags: []string{"--retries", "0", "--max-consecutive-failures", "3"}, want: exitBreaker, called: true},
		{name: "no key", key: " ", want: exitUsage},
		{name: "no org", flags: []string{"--org", ""}, want: exitUsage},
		{name: "remote http", flags: []string{"--base-url", "http://192.0.2.1/api/v1"}, want: exitUsage},
		{name: "unknown flag", flags: []string{"--no-such-flag"}, want: exitUsage},
		{name: "bad --progress", flags: []string{"--progress", "fancy"}, want: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := fleet(t, 10, tt.extra...)
			srv := newServer(t, tt.cfg)
			out := filepath.Join(t.TempDir(), "r.csv")
			key := testKey
			if tt.key != "" {
				key = tt.key
			}
			args := append([]string{"reset"}, fast(srv, out)...)
			args = append(append(args, tt.flags...), path)
			res := runCLI(t, key, nil, args...)
			if res.code != tt.want {
				t.Errorf("exit %d, want %d; stderr:\n%s", res.code, tt.want, res.stderr)
			}
			if !tt.called && srv.Total() != 0 {
				t.Errorf("server saw %d requests, want none", srv.Total())
			}
		})
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	path, iccids := fleet(t, 5, iccidLine(luhnICCID(2)), iccidLine("Total"))
	srv := newServer(t, mockapi.Config{})
	out := filepath.Join(t.TempDir(), "r.csv")
	res := runCLI(t, "", nil, "reset", "--dry-run", "--base-url", srv.URL(), "--out", out, path)
	if res.code != exitSomeFailed {
		t.Errorf("exit %d, want %d (an invalid row); stderr:\n%s", res.code, exitSomeFailed, res.stderr)
	}
	if srv.Total() != 0 {
		t.Errorf("dry run sent %d requests", srv.Total())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("dry run wrote %s", out)
	}
	for _, iccid := range iccids {
		if !strings.Contains(res.stdout, ","+iccid+",would_reset,") {
			t.Errorf("dry run does not list %s as would_reset:\n%s", iccid, res.stdout)
		}
	}
	for _, want := range []string{"duplicate", "invalid", "5 would be reset", "nothing was sent"} {
		if !strings.Contains(res.stdout+res.stderr, want) {
			t.Errorf("dry run output lacks %q", want)
		}
	}
}

func TestExistingOutputIsNotOverwrittenWithoutForce(t *testing.T) {
	path, _ := fleet(t, 3)
	srv := newServer(t, mockapi.Config{})
	out := filepath.Join(t.TempDir(), "r.csv")
	if err := os.WriteFile(out, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, testKey, nil, append(append([]string{"reset"}, fast(srv, out)...), path)...)
	if res.code != exitUsage {
		t.Errorf("exit %d, want %d", res.code, exitUsage)
	}
	if !strings.Contains(res.stderr, "--force") {
		t.Errorf("the error does not suggest --force:\n%s", res.stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious\n" {
		t.Errorf("the existing file was changed to %q", b)
	}
	if srv.Total() != 0 {
		t.Errorf("server saw %d requests", srv.Total())
	}
	res = runCLI(t, testKey, nil, append(append([]string{"reset", "--force"}, fast(srv, out)...), path)...)
	if res.code != exitOK || srv.Total() != 3 {
		t.Errorf("with --force: exit %d, %d requests; want 0 and 3", res.code, srv.Total())
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"help", "reset"}, {"--version"}} {
		res := runCLI(t, "", nil, args...)
		if res.code != exitOK {
			t.Errorf("%v: exit %d", args, res.code)
		}
		if !strings.Contains(res.stdout, "reset") && !strings.Contains(res.stdout, version) {
			t.Errorf("%v: output says nothing useful:\n%s", args, res.stdout)
		}
	}
	if res := runCLI(t, "", nil, "help", "reset"); !strings.Contains(res.stdout, "--dry-run") {
		t.Errorf("help reset does not list the flags:\n%s", res.stdout)
	}
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUnusableOutputsStopBeforeAnyRequest(t *testing.T) {
	path, _ := fleet(t, 5)
	original := readFile(t, path)
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir")
	tests := []struct {
		name  string
		flags []string
		says  string
	}{
		{"--out is the input", []string{"--out", path, "--force"}, "is the input file"},
		{"--out in a missing directory", []string{"--out", filepath.Join(missing, "r.csv")}, missing},
		{"--out is a directory", []string{"--out", dir, "--force"}, "is a directory"},
		{"--summary-json in a missing directory", []string{"--summary-json", filepath.Join(missing, "s.json")}, missing},
		{"--metrics-file in a missing directory", []string{"--metrics-file", filepath.Join(missing, "m.prom")}, missing},
		{"--workers 0", []string{"--workers", "0"}, "--workers must be at least 1"},
		{"--timeout 0", []string{"--timeout", "0s"}, "--timeout"},
		{"negative --deadline", []string{"--deadline=-5s"}, "--deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, mockapi.Config{})
			args := []string{"reset", "--org", "org-1", "--base-url", srv.URL(), "--progress", "off",
				"--out", filepath.Join(t.TempDir(), "r.csv")}
			res := runCLI(t, testKey, nil, append(append(args, tt.flags...), path)...)
			if res.code != exitUsage || !strings.Contains(res.stderr, tt.says) {
				t.Errorf("exit %d, stderr %q; want exit 2 saying %q", res.code, res.stderr, tt.says)
			}
			if srv.Total() != 0 {
				t.Errorf("server saw %d requests", srv.Total())
			}
			if readFile(t, path) != original {
				t.Fatal("the input file was changed")
			}
		})
	}
}

func TestTheLockFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "results.csv")
	link := filepath.Join(dir, "link.csv")
	if err := os.WriteFile(real, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	c := resetCmd{}
	if got, want := c.lockPath(link), c.lockPath(real); got != want {
		t.Errorf("lock for the link %s, for the file %s: two names for one file must share one lock", got, want)
	}
}
