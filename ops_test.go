package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/simreset/simreset/batch/mockapi"
)

func TestSummaryAndMetricsFilesHoldTheRightNumbers(t *testing.T) {
	path, iccids := fleet(t, 10, iccidLine(luhnICCID(4)), iccidLine("Total"))
	unknown := map[string]bool{iccids[0]: true, iccids[1]: true}
	srv := newServer(t, mockapi.Config{
		Unknown: func(iccid string) bool { return unknown[iccid] },
		Script:  map[string][]int{iccids[2]: {500, 200}},
	})
	dir := t.TempDir()
	out, sumPath, promPath := filepath.Join(dir, "r.csv"), filepath.Join(dir, "s.json"), filepath.Join(dir, "m.prom")
	args := append([]string{"reset", "--summary-json", sumPath, "--metrics-file", promPath}, fast(srv, out)...)
	res := runCLI(t, testKey, nil, append(args, path)...)
	if res.code != exitSomeFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", res.code, exitSomeFailed, res.stderr)
	}

	var sum struct {
		ExitCode    int            `json:"exit_code"`
		Reason      string         `json:"reason"`
		Total       int            `json:"total"`
		Outcomes    map[string]int `json:"outcomes"`
		StatusCodes map[string]int `json:"status_codes"`
		Attempts    int            `json:"attempts"`
		Latency     struct{ P50, P95, Max float64 }
	}
	raw, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatalf("summary JSON: %v\n%s", err, raw)
	}
	wantOutcomes := map[string]int{"reset": 8, "failed": 2, "invalid": 1, "duplicate": 1}
	for outcome, n := range wantOutcomes {
		if sum.Outcomes[outcome] != n {
			t.Errorf("summary outcomes[%s] = %d, want %d (%v)", outcome, sum.Outcomes[outcome], n, sum.Outcomes)
		}
	}
	if sum.StatusCodes["200"] != 8 || sum.StatusCodes["404"] != 2 {
		t.Errorf("summary status codes %v, want 200:8 404:2", sum.StatusCodes)
	}
	if sum.Total != 12 || sum.Attempts != 11 || sum.ExitCode != exitSomeFailed || sum.Reason == "" {
		t.Errorf("summary total %d attempts %d exit %d reason %q; want 12, 11, 1, a reason", sum.Total, sum.Attempts, sum.ExitCode, sum.Reason)
	}

	f, err := os.Open(promPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("metrics file does not parse: %v", err)
	}
	gauge := func(name string, label ...string) float64 {
		fam, ok := families[name]
		if !ok {
			t.Errorf("metrics file has no %s", name)
			return -1
		}
		for _, m := range fam.Metric {
			if len(label) == 0 || hasLabel(m, label[0], label[1]) {
				return m.GetGauge().GetValue()
			}
		}
		t.Errorf("%s has no series %v", name, label)
		return -1
	}
	for _, check := range []struct {
		got, want float64
		what      string
	}{
		{gauge("simreset_last_run_success"), 0, "success"},
		{gauge("simreset_last_run_exit_code"), 1, "exit code"},
		{gauge("simreset_last_run_sims", "outcome", "reset"), 8, "reset SIMs"},
		{gauge("simreset_last_run_sims", "outcome", "failed"), 2, "failed SIMs"},
		{gauge("simreset_last_run_sims", "outcome", "not_attempted"), 0, "not_attempted SIMs"},
		{gauge("simreset_last_run_responses", "code", "404"), 2, "404 answers"},
		{gauge("simreset_last_run_attempts"), 11, "attempts"},
	} {
		if check.got != check.want {
			t.Errorf("metric %s = %v, want %v", check.what, check.got, check.want)
		}
	}
	if gauge("simreset_last_run_end_timestamp_seconds") < gauge("simreset_last_run_start_timestamp_seconds") {
		t.Error("the run ends before it starts")
	}
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.Label {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func TestTheKeyNeverLeaks(t *testing.T) {
	path, iccids := fleet(t, 6, iccidLine("Total"))
	srv := newServer(t, mockapi.Config{
		Script: map[string][]int{iccids[0]: {500, 200}, iccids[1]: {-1, 200}, iccids[2]: {502, 503, 200}},
	})
	dir := t.TempDir()
	out, sumPath, promPath := filepath.Join(dir, "r.csv"), filepath.Join(dir, "s.json"), filepath.Join(dir, "m.prom")
	for _, format := range []string{"text", "json"} {
		args := append([]string{"reset", "--force", "--log-level", "debug", "--log-format", format, "--progress", "log",
			"--summary-json", sumPath, "--metrics-file", promPath}, fast(srv, out)...)
		res := runCLI(t, testKey, nil, append(args, path)...)
		if res.code != exitSomeFailed {
			t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
		}
		if !strings.Contains(res.stderr, "level=DEBUG") && !strings.Contains(res.stderr, `"level":"DEBUG"`) {
			t.Errorf("%s: no debug lines on stderr; the check would prove nothing", format)
		}
		for name, text := range map[string]string{"stderr": res.stderr, "stdout": res.stdout,
			"result file": readFile(t, out), "summary": readFile(t, sumPath), "metrics": readFile(t, promPath)} {
			if strings.Contains(text, testKey) || strings.Contains(text, testKey[3:]) {
				t.Errorf("%s log format: the key appears in %s", format, name)
			}
		}
		if format == "json" { // every line, the summary included, is JSON
			for _, line := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
				if !json.Valid([]byte(line)) {
					t.Errorf("not a JSON log line: %s", line)
				}
			}
			if !strings.Contains(res.stderr, `"msg":"summary"`) {
				t.Error("no summary line in the JSON log")
			}
		}
	}
	// The key file is read, trimmed, and works like the environment variable.
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"reset", "--force", "--api-key-file", keyFile}, fast(srv, out)...)
	if res := runCLI(t, "", nil, append(args, path)...); res.code != exitSomeFailed {
		t.Errorf("--api-key-file: exit %d; stderr:\n%s", res.code, res.stderr)
	}
}

func TestOrgIsPathEscaped(t *testing.T) {
	path, iccids := fleet(t, 1)
	srv := newServer(t, mockapi.Config{Org: "a/../b"})
	out := filepath.Join(t.TempDir(), "r.csv")
	args := []string{"reset", "--org", "a/../b", "--base-url", srv.URL(), "--out", out, "--progress", "off", path}
	if res := runCLI(t, testKey, nil, args...); res.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/api/v1/a%2F..%2Fb/Sim/Reset" || reqs[0].Org != "a/../b" || reqs[0].ICCID != iccids[0] {
		t.Errorf("requests %+v, want one to /api/v1/a%%2F..%%2Fb/Sim/Reset", reqs)
	}
}

func TestHostileAnswers(t *testing.T) {
	tests := []struct {
		name    string
		cfg     mockapi.Config
		message string // what the result line must say, exactly
	}{
		{"formula in the Message", mockapi.Config{MessageOverride: "=HYPERLINK(\"http://x\",\"y\")", Fail500: 1}, `'=HYPERLINK("http://x","y")`},
		{"tab first", mockapi.Config{MessageOverride: "\t@SUM(A1)", Fail500: 1}, "'\t@SUM(A1)"},
		{"HTML 502", mockapi.Config{FailHTML502: 1}, ""},
		{"10 MB body", mockapi.Config{HugeBody: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := fleet(t, 1)
			srv := newServer(t, tt.cfg)
			out := filepath.Join(t.TempDir(), "r.csv")
			args := append([]string{"reset", "--retries", "0"}, fast(srv, out)...)
			if res := runCLI(t, testKey, nil, append(args, path)...); res.code != exitSomeFailed {
				t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
			}
			_, rows := resultLines(t, out)
			msg := rows["2"][4]
			switch {
			case tt.message != "" && msg != tt.message:
				t.Errorf("message %q, want %q", msg, tt.message)
			case len(msg) > 200 || strings.Contains(msg, "<") || msg == "":
				t.Errorf("message %q: want a short line without markup", msg)
			}
			if rows["2"][2] != "failed" {
				t.Errorf("outcome %q, want failed", rows["2"][2])
			}
		})
	}
}

func TestResultFileIsNotWorldWritable(t *testing.T) {
	path, _ := fleet(t, 1)
	srv := newServer(t, mockapi.Config{})
	out := filepath.Join(t.TempDir(), "r.csv")
	if res := runCLI(t, testKey, nil, append(append([]string{"reset"}, fast(srv, out)...), path)...); res.code != exitOK {
		t.Fatalf("exit %d", res.code)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm()&0o002 != 0 {
		t.Errorf("result file mode %v is world-writable", info.Mode().Perm())
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
