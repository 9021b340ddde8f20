package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/simreset/simreset/batch"
)

// Outcomes returns every outcome in the order reports list them.
func Outcomes() []batch.Outcome {
	return []batch.Outcome{
		batch.OutcomeReset, batch.OutcomeFailed, batch.OutcomeInvalid,
		batch.OutcomeDuplicate, batch.OutcomeSkipped, batch.OutcomeNotAttempted,
	}
}

// Summary aggregates a run's results as they come: counters and a fixed latency
// histogram, never the samples, so its memory is constant whatever the fleet size.
// Add, Close, SetEnd and every reader are safe for concurrent use.
//
// Latency covers the results that called the API (reset and failed): their Duration,
// from the first attempt to the final answer, retries and waits included.
type Summary struct {
	// mu guards every field below.
	mu       sync.Mutex
	start    time.Time
	end      time.Time
	counts   map[batch.Outcome]int
	codes    map[int]int
	noAnswer int // failed results that got no HTTP answer at all
	attempts int
	latency  histogram
	exitCode int
	reason   string
	luhn     int // input rows whose ICCID fails the Luhn check (a warning)
}

// NewSummary returns an empty Summary for a run that started at start. The caller
// calls Add for every result, then Close and SetEnd before writing it out.
func NewSummary(start time.Time) *Summary {
	return &Summary{start: start, counts: map[batch.Outcome]int{}, codes: map[int]int{}}
}

// Add counts one result.
func (s *Summary) Add(r batch.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[r.Outcome]++
	s.attempts += r.Attempts
	if r.StatusCode != 0 {
		s.codes[r.StatusCode]++
	} else if r.Outcome == batch.OutcomeFailed {
		s.noAnswer++
	}
	if r.Outcome == batch.OutcomeReset || r.Outcome == batch.OutcomeFailed {
		s.latency.add(r.Duration)
	}
}

// Close records when the run ended; elapsed time and rates are measured up to it.
func (s *Summary) Close(end time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end = end
}

// SetLuhnFailures records how many input rows hold an ICCID whose Luhn check
// digit does not match, as the reader counted them before the run.
func (s *Summary) SetLuhnFailures(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.luhn = n
}

// SetEnd records the process's exit status and, in a few words, why the run ended
// ("done", "deadline reached", "interrupted", "outage breaker: ...").
func (s *Summary) SetEnd(exitCode int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exitCode, s.reason = exitCode, reason
}

// Counts returns the number of results per outcome; every outcome is present, zeros
// included. The map is the caller's.
func (s *Summary) Counts() map[batch.Outcome]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[batch.Outcome]int, len(s.counts))
	for _, o := range Outcomes() {
		m[o] = 0
	}
	for o, n := range s.counts {
		m[o] = n
	}
	return m
}

// StatusCounts returns the number of results per HTTP status of their final
// attempt (results with no answer are not in it). The map is the caller's.
func (s *Summary) StatusCounts() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[int]int, len(s.codes))
	for c, n := range s.codes {
		m[c] = n
	}
	return m
}

// Total returns the number of results added.
func (s *Summary) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n
}

// Attempts returns the number of HTTP attempts made, retries included.
func (s *Summary) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Start returns when the run started.
func (s *Summary) Start() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.start
}

// End returns when the run ended (zero before Close).
func (s *Summary) End() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end
}

// Elapsed returns the time from start to Close (zero before Close).
func (s *Summary) Elapsed() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.elapsed()
}

func (s *Summary) elapsed() time.Duration {
	if s.end.IsZero() || s.end.Before(s.start) {
		return 0
	}
	return s.end.Sub(s.start)
}

// Latency returns the q-quantile (0 < q <= 1; 1 is the maximum, exact) of the
// latency of reset and failed results, within about 1%; zero when there were none.
func (s *Summary) Latency(q float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency.quantile(q)
}

// RequestRate returns the API calls made per second of elapsed time (every attempt
// counted); zero before Close.
func (s *Summary) RequestRate() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return perSecond(s.attempts, s.elapsed())
}

// SIMRate returns the SIMs that went through the API (reset or failed) per second of
// elapsed time; zero before Close.
func (s *Summary) SIMRate() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return perSecond(s.counts[batch.OutcomeReset]+s.counts[batch.OutcomeFailed], s.elapsed())
}

// ExitCode returns what SetEnd recorded.
func (s *Summary) ExitCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitCode
}

// Reason returns what SetEnd recorded.
func (s *Summary) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// summaryJSON is the JSON form of a Summary; WriteJSON documents the keys.
type summaryJSON struct {
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
	Latency        latencyJSON    `json:"latency_seconds"`
}

type latencyJSON struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// snapshot copies the figures under the lock, for the writers.
func (s *Summary) snapshot() summaryJSON {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := summaryJSON{
		Start:          s.start.UTC(),
		End:            s.end.UTC(),
		ElapsedSeconds: s.elapsed().Seconds(),
		ExitCode:       s.exitCode,
		Reason:         s.reason,
		Outcomes:       map[string]int{},
		StatusCodes:    map[string]int{},
		NoAnswer:       s.noAnswer,
		LuhnFailures:   s.luhn,
		Attempts:       s.attempts,
		RequestsPerSec: perSecond(s.attempts, s.elapsed()),
		SIMsPerSec:     perSecond(s.counts[batch.OutcomeReset]+s.counts[batch.OutcomeFailed], s.elapsed()),
		Latency: latencyJSON{
			P50: s.latency.quantile(0.5).Seconds(),
			P95: s.latency.quantile(0.95).Seconds(),
			Max: s.latency.quantile(1).Seconds(),
		},
	}
	for _, o := range Outcomes() {
		j.Outcomes[string(o)] = 0
	}
	for o, n := range s.counts {
		j.Outcomes[string(o)] = n
		j.Total += n
	}
	for c, n := range s.codes {
		j.StatusCodes[strconv.Itoa(c)] = n
	}
	return j
}

// WriteJSON writes the summary as one indented JSON object. The keys are stable:
//
//	start, end           RFC 3339 UTC times (nanoseconds) of the run's start and Close
//	elapsed_seconds      end - start, in seconds
//	exit_code, reason    what SetEnd recorded
//	total                results counted
//	outcomes             {"reset": n, "failed": n, "invalid": n, "duplicate": n,
//	                      "skipped": n, "not_attempted": n}, every outcome present
//	status_codes         {"200": n, "404": n, ...}: final HTTP status per result
//	no_answer            failed results that got no HTTP answer (transport errors)
//	luhn_failures        input rows whose ICCID fails the Luhn check (SetLuhnFailures)
//	attempts             HTTP attempts made, retries included
//	requests_per_second  attempts / elapsed_seconds
//	sims_per_second      (reset + failed) / elapsed_seconds
//	latency_seconds      {"p50": s, "p95": s, "max": s} over reset and failed results
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.snapshot()); err != nil {
		return fmt.Errorf("report: write summary JSON: %w", err)
	}
	return nil
}

// WriteText writes a short table for people: outcomes, status codes, elapsed time,
// rates, latency and why the run ended.
func (s *Summary) WriteText(w io.Writer) error {
	j := s.snapshot()
	for _, o := range Outcomes() {
		fmt.Fprintf(w, "%-14s %9d\n", o, j.Outcomes[string(o)])
	}
	fmt.Fprintf(w, "%-14s %9d\n", "total", j.Total)

	codes := make([]string, 0, len(j.StatusCodes)+1)
	for _, c := range slices.Sorted(maps.Keys(j.StatusCodes)) {
		codes = append(codes, fmt.Sprintf("%s x%d", c, j.StatusCodes[c]))
	}
	if j.NoAnswer > 0 {
		codes = append(codes, fmt.Sprintf("no answer x%d", j.NoAnswer))
	}
	if len(codes) == 0 {
		codes = append(codes, "none")
	}
	if j.LuhnFailures > 0 {
		fmt.Fprintf(w, "luhn check failed on %d rows (a warning; --strict makes them invalid)\n", j.LuhnFailures)
	}
	elapsed := time.Duration(j.ElapsedSeconds * float64(time.Second)).Round(time.Millisecond)
	reason := j.Reason
	if reason == "" {
		reason = "unknown"
	}
	_, err := fmt.Fprintf(w, "status codes: %s\n"+
		"elapsed %s, %d attempts: %.2f requests/s, %.2f SIMs/s\n"+
		"latency p50 %s, p95 %s, max %s\n"+
		"ended: %s (exit %d)\n",
		strings.Join(codes, ", "),
		elapsed, j.Attempts, j.RequestsPerSec, j.SIMsPerSec,
		roundLatency(j.Latency.P50), roundLatency(j.Latency.P95), roundLatency(j.Latency.Max),
		reason, j.ExitCode)
	if err != nil {
		return fmt.Errorf("report: write summary: %w", err)
	}
	return nil
}

func roundLatency(sec float64) time.Duration {
	return time.Duration(sec * float64(time.Second)).Round(time.Millisecond)
}

// WriteSummaryFile writes s as JSON (see WriteJSON) to path atomically: into a
// temporary file in the same directory, then renamed over path, mode 0644, so a
// reader never sees half a summary.
func WriteSummaryFile(path string, s *Summary) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("report: write summary %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := s.WriteJSON(tmp); err != nil {
		return fmt.Errorf("report: write summary %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("report: write summary %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report: write summary %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: write summary %s: %w", path, err)
	}
	return nil
}

// The latency histogram has log-spaced buckets growing by histGrowth from histMin:
// bucket i holds (histMin·g^(i-1), histMin·g^i]. Reporting a bucket's geometric middle
// is within sqrt(1.02)-1 < 1% of any value in it. 1200 buckets reach past an hour.
const (
	histMin     = float64(time.Microsecond)
	histGrowth  = 1.02
	histBuckets = 1200
)

// histogram counts durations in fixed log-scale buckets: constant memory, ~1% error.
// The zero value is ready; it is not safe for concurrent use on its own.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	min    time.Duration
	max    time.Duration
}

func (h *histogram) add(d time.Duration) {
	d = max(d, 0)
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.counts[bucketOf(d)]++
}

func bucketOf(d time.Duration) int {
	if float64(d) <= histMin {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(d)/histMin) / math.Log(histGrowth)))
	return min(max(i, 0), histBuckets-1)
}

// quantile returns the nearest-rank q-quantile: the smallest recorded value with at
// least q·n values at or below it, as its bucket's middle clamped to [min, max].
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return h.max
	}
	if q <= 0 {
		return h.min
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen < rank {
			continue
		}
		var v time.Duration
		if i > 0 {
			v = time.Duration(histMin * math.Pow(histGrowth, float64(i)-0.5))
		}
		return min(max(v, h.min), h.max)
	}
	return h.max
}
