package report

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simreset/simreset/batch"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// knownRun is 1000 API calls with latencies 1..1000 ms (900 reset, 100 failed with
// 500 and 2 attempts each), plus one of each outcome that makes no call, over 100 s.
func knownRun() *Summary {
	s := NewSummary(t0)
	for i := 1; i <= 1000; i++ {
		r := batch.Result{Outcome: batch.OutcomeReset, StatusCode: 200, Attempts: 1, Duration: time.Duration(i) * time.Millisecond}
		if i%10 == 0 {
			r.Outcome, r.StatusCode, r.Attempts = batch.OutcomeFailed, 500, 2
		}
		s.Add(r)
	}
	s.Add(batch.Result{Outcome: batch.OutcomeFailed, Attempts: 5, Duration: 0})
	s.Add(batch.Result{Outcome: batch.OutcomeInvalid})
	s.Add(batch.Result{Outcome: batch.OutcomeDuplicate})
	s.Add(batch.Result{Outcome: batch.OutcomeNotAttempted})
	s.Close(t0.Add(100 * time.Second))
	s.SetEnd(1, "done")
	s.SetLuhnFailures(3)
	return s
}

func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*want
}

func TestSummaryCounts(t *testing.T) {
	s := knownRun()
	want := map[batch.Outcome]int{
		batch.OutcomeReset: 900, batch.OutcomeFailed: 101, batch.OutcomeInvalid: 1,
		batch.OutcomeDuplicate: 1, batch.OutcomeSkipped: 0, batch.OutcomeNotAttempted: 1,
	}
	got := s.Counts()
	if len(got) != len(want) {
		t.Errorf("Counts() = %v, want %v", got, want)
	}
	for o, n := range want {
		if got[o] != n {
			t.Errorf("Counts()[%s] = %d, want %d", o, got[o], n)
		}
	}
	if got, want := s.StatusCounts(), map[int]int{200: 900, 500: 100}; len(got) != 2 || got[200] != want[200] || got[500] != want[500] {
		t.Errorf("StatusCounts() = %v, want %v", got, want)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"Total", float64(s.Total()), 1004},
		{"Attempts", float64(s.Attempts()), 900 + 200 + 5},
		{"Elapsed", s.Elapsed().Seconds(), 100},
		{"RequestRate", s.RequestRate(), 11.05},
		{"SIMRate", s.SIMRate(), 10.01},
		{"ExitCode", float64(s.ExitCode()), 1},
	} {
		if !within(c.got, c.want, 1e-9) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if s.Reason() != "done" {
		t.Errorf("Reason() = %q, want done", s.Reason())
	}
}

func TestSummaryLatency(t *testing.T) {
	// Nearest rank over 1001 values (a 0 and 1..1000 ms).
	s := knownRun()
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 500 * time.Millisecond},
		{0.95, 950 * time.Millisecond},
		{0.99, 990 * time.Millisecond},
		{1, 1000 * time.Millisecond},
	} {
		if got := s.Latency(tc.q); !within(float64(got), float64(tc.want), 0.02) {
			t.Errorf("Latency(%v) = %v, want %v within 2%%", tc.q, got, tc.want)
		}
	}
	if got := s.Latency(1); got != time.Second {
		t.Errorf("max = %v, want exactly 1s", got)
	}
	if got := NewSummary(t0).Latency(0.5); got != 0 {
		t.Errorf("empty p50 = %v, want 0", got)
	}
}

func TestHistogramPrecision(t *testing.T) {
	// Every value, from microseconds to an hour, comes back within 1%.
	for _, d := range []time.Duration{
		3 * time.Microsecond, 777 * time.Microsecond, 12 * time.Millisecond,
		time.Second + 234*time.Millisecond, 59 * time.Second, 47 * time.Minute,
	} {
		var h histogram
		// Neighbours on both sides, so that the median is not clamped to min or max.
		h.add(d / 2)
		h.add(d)
		h.add(2 * d)
		if got := h.quantile(0.5); !within(float64(got), float64(d), 0.01) {
			t.Errorf("p50 of {%v, %v, %v} = %v, want within 1%% of %v", d/2, d, 2*d, got, d)
		}
	}
}

func TestSummaryJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := knownRun().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Start          time.Time      `json:"start"`
		End            time.Time      `json:"end"`
		ElapsedSeconds float64        `json:"elapsed_seconds"`
		ExitCode       int            `json:"exit_code"`
		Reason         string         `json:"reason"`
		Total          int            `json:"total"`
		Outcomes       map[string]int `json:"outcomes"`
		StatusCodes    map[string]int `json:"status_codes"`
		NoAnswer       int            `json:"no_answer"`
		LuhnFailures   int            `json:"luhn_failures"`
		Attempts       int            `json:"attempts"`
		RequestsPerSec float64        `json:"requests_per_second"`
		SIMsPerSec     float64        `json:"sims_per_second"`
		Latency        struct {
			P50 float64 `json:"p50"`
			P95 float64 `json:"p95"`
			Max float64 `json:"max"`
		} `json:"latency_seconds"`
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !got.Start.Equal(t0) || !got.End.Equal(t0.Add(100*time.Second)) || got.ElapsedSeconds != 100 {
		t.Errorf("times = %v, %v, %v", got.Start, got.End, got.ElapsedSeconds)
	}
	if got.ExitCode != 1 || got.Reason != "done" || got.Total != 1004 || got.NoAnswer != 1 || got.Attempts != 1105 || got.LuhnFailures != 3 {
		t.Errorf("exit %d, reason %q, total %d, no answer %d, attempts %d, luhn failures %d",
			got.ExitCode, got.Reason, got.Total, got.NoAnswer, got.Attempts, got.LuhnFailures)
	}
	wantOutcomes := map[string]int{"reset": 900, "failed": 101, "invalid": 1, "duplicate": 1, "skipped": 0, "not_attempted": 1}
	if len(got.Outcomes) != len(wantOutcomes) {
		t.Errorf("outcomes = %v, want %v", got.Outcomes, wantOutcomes)
	}
	for k, v := range wantOutcomes {
		if n, ok := got.Outcomes[k]; !ok || n != v {
			t.Errorf("outcomes[%s] = %d (present %v), want %d", k, n, ok, v)
		}
	}
	if len(got.StatusCodes) != 2 || got.StatusCodes["200"] != 900 || got.StatusCodes["500"] != 100 {
		t.Errorf("status_codes = %v", got.StatusCodes)
	}
	if !within(got.RequestsPerSec, 11.05, 1e-9) || !within(got.SIMsPerSec, 10.01, 1e-9) {
		t.Errorf("rates = %v, %v", got.RequestsPerSec, got.SIMsPerSec)
	}
	if !within(got.Latency.P50, 0.5, 0.02) || !within(got.Latency.P95, 0.95, 0.02) || got.Latency.Max != 1 {
		t.Errorf("latency_seconds = %+v, want p50 0.5, p95 0.95, max 1", got.Latency)
	}
}

func TestSummaryText(t *testing.T) {
	var buf bytes.Buffer
	if err := knownRun().WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"reset                900\n", "not_attempted          1\n", "total               1004\n",
		"status codes: 200 x900, 500 x100, no answer x1",
		"elapsed 1m40s, 1105 attempts: 11.05 requests/s, 10.01 SIMs/s",
		"latency p50 4", ", p95 9", ", max 1s\n",
		"ended: done (exit 1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteSummaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "summary.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteSummaryFile(path, knownRun()); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %o, want 644", st.Mode().Perm())
	}
	var m map[string]any
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &m); err != nil || m["total"] != float64(1004) {
		t.Errorf("summary file: %v, total %v", err, m["total"])
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files left in the directory, want 1 (no temporary file)", len(entries))
	}
	if err := WriteSummaryFile(filepath.Join(dir, "missing", "s.json"), knownRun()); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("WriteSummaryFile into a missing dir: %v", err)
	}
}

func TestSummaryConcurrentAdd(t *testing.T) {
	s := NewSummary(t0)
	done := make(chan struct{})
	for range 8 {
		go func() {
			for range 100 {
				s.Add(batch.Result{Outcome: batch.OutcomeReset, StatusCode: 200, Attempts: 1, Duration: time.Millisecond})
			}
			done <- struct{}{}
		}()
	}
	for range 8 {
		<-done
	}
	if got := s.Counts()[batch.OutcomeReset]; got != 800 {
		t.Errorf("reset = %d, want 800", got)
	}
}
