package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simreset/simreset/batch/mockapi"
)

const testKey = "test-key-4711"

// sliceSource yields fixed records, like an Input.
type sliceSource struct {
	mu   sync.Mutex
	recs []Record
}

func (s *sliceSource) Next() (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recs) == 0 {
		return Record{}, io.EOF
	}
	r := s.recs[0]
	s.recs = s.recs[1:]
	return r, nil
}

// sims returns n records with distinct made-up ICCIDs, rows from 2.
func sims(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		iccid := fmt.Sprintf("898829900000%08d", i)
		recs[i] = Record{Row: i + 2, Line: i + 2, Raw: iccid, ICCID: iccid}
	}
	return recs
}

// testConfig is fast: short backoffs, no limit unless set.
func testConfig(srv *mockapi.Server) Config {
	return Config{
		BaseURL: srv.URL(), Org: "org-1", APIKey: testKey,
		Workers: 4, Retries: 4, Timeout: 2 * time.Second, MaxWait: time.Second,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		MaxConsecutiveFailures: 20,
	}
}

// runPool runs recs through a pool for cfg and returns the results by row.
func runPool(t *testing.T, cfg Config, recs []Record, opts ...Option) (map[int]Result, error) {
	t.Helper()
	pool, err := NewPool(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	byRow := map[int]Result{}
	ctx := context.Background()
	err = pool.Run(ctx, ctx, &sliceSource{recs: recs}, func(r Result) error {
		if _, dup := byRow[r.Row]; dup {
			t.Errorf("row %d has two results", r.Row)
		}
		byRow[r.Row] = r
		return nil
	})
	if got, want := len(byRow), len(recs); got != want {
		t.Errorf("results: got %d, want one per record (%d)", got, want)
	}
	return byRow, err
}

func TestRunCallsEverySIMOnceWithTheRightResult(t *testing.T) {
	unknown := "89882990000000000003"
	srv := mockapi.NewServer(mockapi.Config{
		Org: "org-1", APIKey: testKey,
		Unknown: func(iccid string) bool { return iccid == unknown },
	})
	defer srv.Close()
	recs := sims(20)
	recs = append(recs,
		Record{Row: 30, Raw: "Total", Outcome: OutcomeInvalid, Message: "not an ICCID"},
		Record{Row: 31, Raw: recs[0].ICCID, ICCID: recs[0].ICCID, Outcome: OutcomeDuplicate, Message: "repeat of row 2"},
	)
	got, err := runPool(t, testConfig(srv), recs)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, rec := range recs[:20] {
		if n := srv.Calls(rec.ICCID); n != 1 {
			t.Errorf("%s called %d times, want 1", rec.ICCID, n)
		}
		r := got[rec.Row]
		want := Result{Outcome: OutcomeReset, StatusCode: 200, Message: "UpdateSuccess", Attempts: 1}
		if rec.ICCID == unknown {
			want = Result{Outcome: OutcomeFailed, StatusCode: 404, Message: "ICCID not found", Attempts: 1}
		}
		if r.ICCID != rec.ICCID || r.Outcome != want.Outcome || r.StatusCode != want.StatusCode ||
			r.Message != want.Message || r.Attempts != want.Attempts {
			t.Errorf("row %d: got %+v, want %+v", rec.Row, r, want)
		}
	}
	if r := got[30]; r.Outcome != OutcomeInvalid || r.ICCID != "Total" || r.Attempts != 0 {
		t.Errorf("invalid row: got %+v", r)
	}
	if r := got[31]; r.Outcome != OutcomeDuplicate || r.Message != "repeat of row 2" {
		t.Errorf("duplicate row: got %+v", r)
	}
	if got, want := srv.Total(), 20; got != want {
		t.Errorf("server saw %d requests, want %d (invalid and duplicate rows are never sent)", got, want)
	}
	for _, req := range srv.Requests() {
		if req.Method != http.MethodPut || req.APIKey != testKey || req.ContentType != "application/json" ||
			req.Path != "/api/v1/org-1/Sim/Reset" || req.Body != `{"ICCID":"`+req.ICCID+`"}` {
			t.Errorf("malformed request: %+v", req)
		}
	}
}

func TestRunRetriesWhatIsWorthRetrying(t *testing.T) {
	recs := sims(8)
	id := func(i int) string { return recs[i].ICCID }
	srv := mockapi.NewServer(mockapi.Config{
		Org: "org-1", APIKey: testKey, RetryAfter: "0",
		Script: map[string][]int{
			id(0): {500, 200},
			id(1): {503, 503, 200},
			id(2): {429, 200},
			id(3): {502, 504, 200},
			id(4): {404},
			id(5): {401},
			id(6): {400},
			id(7): {500, 500, 500, 500, 500},
		},
	})
	defer srv.Close()
	cfg := testConfig(srv)
	cfg.Rate = 1000 // the 429 halves it: an unlimited pool would be cut to half its (tiny) observed rate
	got, err := runPool(t, cfg, recs)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	tests := []struct {
		i        int
		calls    int
		outcome  Outcome
		status   int
		attempts int
	}{
		{0, 2, OutcomeReset, 200, 2},
		{1, 3, OutcomeReset, 200, 3},
		{2, 2, OutcomeReset, 200, 2},
		{3, 3, OutcomeReset, 200, 3},
		{4, 1, OutcomeFailed, 404, 1}, // not found: never retried
		{5, 1, OutcomeFailed, 401, 1}, // wrong key: never retried
		{6, 1, OutcomeFailed, 400, 1},
		{7, 5, OutcomeFailed, 500, 5}, // 1 + 4 retries, then the last status is kept
	}
	for _, tt := range tests {
		r := got[recs[tt.i].Row]
		if calls := srv.Calls(id(tt.i)); calls != tt.calls || r.Outcome != tt.outcome || r.StatusCode != tt.status || r.Attempts != tt.attempts {
			t.Errorf("script %d: calls %d, result %+v; want calls %d, %s %d after %d attempts",
				tt.i, calls, r, tt.calls, tt.outcome, tt.status, tt.attempts)
		}
	}
}

func TestRunKeepsTheRate(t *testing.T) {
	srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: testKey})
	defer srv.Close()
	cfg := testConfig(srv)
	cfg.Rate, cfg.Burst, cfg.Workers = 40, 2, 16
	start := time.Now()
	if _, err := runPool(t, cfg, sims(80)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	elapsed := time.Since(start)
	// Never more than rate x window + burst in any window, counted by the server.
	if got, limit := srv.MaxInWindow(time.Second), 40+2; got > limit {
		t.Errorf("server saw %d requests in one second, limit %d", got, limit)
	}
	// And the rate is reached: 80 requests, the first 2 at once, take ~1.95 s.
	if elapsed < 1500*time.Millisecond {
		t.Errorf("80 requests at 40/s took %v: the limiter is not pacing", elapsed)
	}
}

func TestRetriesPayForTokensToo(t *testing.T) {
	recs := sims(10)
	script := map[string][]int{}
	for _, r := range recs {
		script[r.ICCID] = []int{500, 500, 200}
	}
	srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: testKey, Script: script})
	defer srv.Close()
	cfg := testConfig(srv)
	cfg.Rate, cfg.Burst, cfg.Workers = 30, 1, 10
	if _, err := runPool(t, cfg, recs); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := srv.Total(), 30; got != want {
		t.Fatalf("server saw %d requests, want %d", got, want)
	}
	if got, limit := srv.MaxInWindow(time.Second), 30+1; got > limit {
		t.Errorf("server saw %d requests in one second, limit %d: retries skipped the limiter", got, limit)
	}
}

func TestBreakers(t *testing.T) {
	t.Run("wrong key aborts after a few SIMs", func(t *testing.T) {
		srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: "the-right-key"})
		defer srv.Close()
		cfg := testConfig(srv)
		cfg.Workers = 1
		got, err := runPool(t, cfg, sims(50))
		if !errors.Is(err, ErrAuthBreaker) {
			t.Fatalf("Run: got %v, want ErrAuthBreaker", err)
		}
		// The one worker may have started one more SIM when the breaker tripped.
		n := srv.Total()
		if n < AuthFailuresToAbort || n > AuthFailuresToAbort+cfg.Workers {
			t.Errorf("server saw %d requests, want %d (+%d in flight)", n, AuthFailuresToAbort, cfg.Workers)
		}
		if got := count(got, OutcomeNotAttempted); got != 50-n {
			t.Errorf("not_attempted lines: %d, want %d", got, 50-n)
		}
	})
	t.Run("an API that is down aborts after N SIMs", func(t *testing.T) {
		srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: testKey, Fail500: 1})
		defer srv.Close()
		cfg := testConfig(srv)
		cfg.Workers, cfg.Retries, cfg.MaxConsecutiveFailures = 1, 1, 5
		got, err := runPool(t, cfg, sims(40))
		if !errors.Is(err, ErrOutageBreaker) {
			t.Fatalf("Run: got %v, want ErrOutageBreaker", err)
		}
		failed := count(got, OutcomeFailed)
		if failed < 5 || failed > 5+cfg.Workers {
			t.Errorf("failed lines: %d, want 5 (+%d in flight)", failed, cfg.Workers)
		}
		// 5 SIMs x 2 attempts; one in flight when the breaker trips ends
		// without its retry.
		if n := srv.Total(); n < 2*5 || n > 2*failed {
			t.Errorf("server saw %d requests, want 2 attempts for each of the first 5 of %d failed SIMs", n, failed)
		}
		if n := count(got, OutcomeNotAttempted); n != 40-failed {
			t.Errorf("not_attempted lines: %d, want %d", n, 40-failed)
		}
	})
	t.Run("0 disables the outage breaker", func(t *testing.T) {
		srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: testKey, Fail500: 1})
		defer srv.Close()
		cfg := testConfig(srv)
		cfg.Retries, cfg.MaxConsecutiveFailures = 0, 0
		got, err := runPool(t, cfg, sims(30))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if n := count(got, OutcomeFailed); n != 30 {
			t.Errorf("failed lines: %d, want 30", n)
		}
	})
}

func TestStopStartsNothingNewAndWritesEveryLine(t *testing.T) {
	srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: testKey, Latency: 20 * time.Millisecond})
	defer srv.Close()
	cfg := testConfig(srv)
	cfg.Workers = 2
	pool, err := NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop, stopNow := context.WithCancelCause(ctx)
	stopCause := errors.New("test stop")
	var results []Result
	err = pool.Run(ctx, stop, &sliceSource{recs: sims(100)}, func(r Result) error {
		results = append(results, r)
		if len(results) == 10 {
			stopNow(stopCause)
		}
		return nil
	})
	if !errors.Is(err, stopCause) {
		t.Fatalf("Run: got %v, want the stop cause", err)
	}
	if len(results) != 100 {
		t.Fatalf("got %d results, want 100", len(results))
	}
	reset, notAttempted := 0, 0
	for _, r := range results {
		switch r.Outcome {
		case OutcomeReset:
			reset++
			if srv.Calls(r.ICCID) != 1 {
				t.Errorf("%s reset but called %d times", r.ICCID, srv.Calls(r.ICCID))
			}
		case OutcomeNotAttempted:
			notAttempted++
			if srv.Calls(r.ICCID) != 0 {
				t.Errorf("%s not_attempted but called", r.ICCID)
			}
		default:
			t.Errorf("unexpected result %+v", r)
		}
	}
	// The two in flight at the stop finish; nothing else starts.
	if reset < 10 || reset > 12 {
		t.Errorf("reset %d SIMs, want 10 to 12", reset)
	}
	if srv.Total() != reset {
		t.Errorf("server saw %d requests for %d resets", srv.Total(), reset)
	}
}

func TestEmitErrorEndsTheRun(t *testing.T) {
	srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: testKey})
	defer srv.Close()
	pool, err := NewPool(testConfig(srv))
	if err != nil {
		t.Fatal(err)
	}
	diskFull := errors.New("disk full")
	n := 0
	ctx := context.Background()
	err = pool.Run(ctx, ctx, &sliceSource{recs: sims(200)}, func(Result) error {
		n++
		if n == 3 {
			return diskFull
		}
		return nil
	})
	if !errors.Is(err, diskFull) {
		t.Fatalf("Run: got %v, want the emit error", err)
	}
	if n != 3 {
		t.Errorf("emit called %d times, want no call after the error", n)
	}
	if srv.Total() > 3+pool.cfg.Workers+1 {
		t.Errorf("server saw %d requests after the writer failed at 3", srv.Total())
	}
}

func TestResumeSkipsWhatIsDone(t *testing.T) {
	srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: testKey})
	defer srv.Close()
	recs := sims(10)
	done := map[string]bool{recs[1].ICCID: true, recs[7].ICCID: true}
	got, err := runPool(t, testConfig(srv), recs, WithSkip(func(iccid string) bool { return done[iccid] }))
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		wantCalls, wantOutcome := 1, OutcomeReset
		if done[rec.ICCID] {
			wantCalls, wantOutcome = 0, OutcomeSkipped
		}
		if calls, r := srv.Calls(rec.ICCID), got[rec.Row]; calls != wantCalls || r.Outcome != wantOutcome {
			t.Errorf("%s: %d calls, %s; want %d, %s", rec.ICCID, calls, r.Outcome, wantCalls, wantOutcome)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{BaseURL: "https://link.monoz.io/api/v1", Org: "o", APIKey: "k"}
	tests := []struct {
		name   string
		change func(*Config)
		errHas string // "" = valid
	}{
		{"https", func(*Config) {}, ""},
		{"http loopback", func(c *Config) { c.BaseURL = "http://127.0.0.1:8080/api/v1" }, ""},
		{"http localhost", func(c *Config) { c.BaseURL = "http://localhost:8080/api/v1" }, ""},
		{"http ::1", func(c *Config) { c.BaseURL = "http://[::1]:8080/api/v1" }, ""},
		{"http remote", func(c *Config) { c.BaseURL = "http://link.monoz.io/api/v1" }, "only to loopback"},
		{"http private", func(c *Config) { c.BaseURL = "http://10.0.0.1/api/v1" }, "only to loopback"},
		{"ftp", func(c *Config) { c.BaseURL = "ftp://x/y" }, "scheme"},
		{"relative", func(c *Config) { c.BaseURL = "/api/v1" }, "absolute"},
		{"credentials", func(c *Config) { c.BaseURL = "https://u:p@x/api" }, "credentials"},
		{"no key", func(c *Config) { c.APIKey = " " }, "MONOZ_API_KEY"},
		{"no org", func(c *Config) { c.Org = "" }, "--org"},
		{"dot-dot org", func(c *Config) { c.Org = ".." }, "path"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.errHas == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas) || !errors.Is(err, ErrConfig)):
				t.Errorf("got %v, want an ErrConfig saying %q", err, tt.errHas)
			}
			if err != nil && strings.Contains(err.Error(), "u:p@") {
				t.Errorf("error shows credentials: %v", err)
			}
		})
	}
}

func count(results map[int]Result, o Outcome) int {
	n := 0
	for _, r := range results {
		if r.Outcome == o {
			n++
		}
	}
	return n
}

func TestTransportErrorsAndTheUncertainRetry(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + closed.Addr().String() + "/api/v1"
	closed.Close() // nothing listens there now: every dial is refused

	tests := []struct {
		name        string
		script      []int
		refused     bool
		noUncertain bool
		outcome     Outcome
		status      int
		attempts    int
		message     string // a part of the result message
	}{
		{name: "reset mid-answer is retried", script: []int{mockapi.StatusReset, 200}, outcome: OutcomeReset, status: 200, attempts: 2},
		{name: "reset mid-answer, --no-retry-uncertain", script: []int{mockapi.StatusReset, 200}, noUncertain: true,
			outcome: OutcomeFailed, attempts: 1, message: "may have reached the API"},
		{name: "hang past the timeout is retried", script: []int{mockapi.StatusHang, 200}, outcome: OutcomeReset, status: 200, attempts: 2},
		{name: "hang, --no-retry-uncertain", script: []int{mockapi.StatusHang, 200}, noUncertain: true,
			outcome: OutcomeFailed, attempts: 1, message: "no answer within the timeout (the request may have reached the API)"},
		{name: "refused is always retried", refused: true, noUncertain: true,
			outcome: OutcomeFailed, attempts: 3, message: "connection refused (not sent)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := sims(1)
			srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: testKey, HangFor: 5 * time.Second,
				Script: map[string][]int{rec[0].ICCID: tt.script}})
			defer srv.Close()
			cfg := testConfig(srv)
			cfg.Retries, cfg.Timeout, cfg.NoRetryUncertain = 2, 200*time.Millisecond, tt.noUncertain
			if tt.refused {
				cfg.BaseURL = refusedURL
			}
			got, err := runPool(t, cfg, rec)
			if err != nil {
				t.Fatal(err)
			}
			r := got[rec[0].Row]
			if r.Outcome != tt.outcome || r.StatusCode != tt.status || r.Attempts != tt.attempts || !strings.Contains(r.Message, tt.message) {
				t.Errorf("got %s %d after %d attempts, %q; want %s %d after %d, containing %q",
					r.Outcome, r.StatusCode, r.Attempts, r.Message, tt.outcome, tt.status, tt.attempts, tt.message)
			}
			if !tt.refused && srv.Calls(rec[0].ICCID) != tt.attempts {
				t.Errorf("server saw %d calls, want %d", srv.Calls(rec[0].ICCID), tt.attempts)
			}
		})
	}
}

func TestRetryAfterIsCappedByMaxWait(t *testing.T) {
	rec := sims(1)
	srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: testKey, RetryAfter: "3600",
		Script: map[string][]int{rec[0].ICCID: {429, 503, 200}}})
	defer srv.Close()
	cfg := testConfig(srv)
	cfg.MaxWait = 100 * time.Millisecond
	start := time.Now()
	got, err := runPool(t, cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	if r := got[rec[0].Row]; r.Outcome != OutcomeReset || r.Attempts != 3 {
		t.Errorf("got %+v, want reset after 3 attempts", r)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v: Retry-After: 3600 was not capped at --max-wait", elapsed)
	}
}

func TestOddAnswers(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		outcome     Outcome
		message     string
	}{
		{"documented success", 200, "application/json", `{"Error":false,"StatusCode":200,"Message":"UpdateSuccess"}`, OutcomeReset, "UpdateSuccess"},
		{"success without Error (later docs)", 200, "application/json", `{"StatusCode":200,"Message":"UpdateSuccess"}`, OutcomeReset, "UpdateSuccess"},
		{"empty 200", 200, "", ``, OutcomeReset, "OK"},
		{"200 saying Error true", 200, "application/json", `{"Error":true,"StatusCode":500,"Message":"reset refused"}`, OutcomeFailed, "reset refused"},
		{"200 saying Error \"true\"", 200, "application/json", `{"Error":"true","Message":"reset refused"}`, OutcomeFailed, "reset refused"},
		{"200 with an HTML page", 200, "text/html", `<html><body>Welcome to the hotel wifi</body></html>`, OutcomeFailed, "OK: not a JSON answer (text/html, 51 bytes)"},
		{"Message not a string", 404, "application/json", `{"Error":true,"Message":{"code":7}}`, OutcomeFailed, `{"code":7}`},
		{"key echoed back", 401, "application/json", `{"Error":true,"Message":"bad key ` + testKey + `"}`, OutcomeFailed, "bad key [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			cfg := Config{BaseURL: srv.URL, Org: "o", APIKey: testKey, Retries: 0}
			got, err := runPool(t, cfg, sims(1))
			if err != nil {
				t.Fatal(err)
			}
			if r := got[2]; r.Outcome != tt.outcome || r.StatusCode != tt.status || r.Message != tt.message {
				t.Errorf("got %s %d %q, want %s %d %q", r.Outcome, r.StatusCode, r.Message, tt.outcome, tt.status, tt.message)
			}
		})
	}
}

func TestStopDuringA429StormEndsWithoutNewAttempts(t *testing.T) {
	srv := mockapi.NewServer(mockapi.Config{Org: "org-1", APIKey: testKey, Fail429: 1, RetryAfter: "30"})
	defer srv.Close()
	cfg := testConfig(srv)
	cfg.Workers, cfg.MaxWait = 2, 30*time.Second
	pool, err := NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop, stopNow := context.WithCancelCause(ctx)
	time.AfterFunc(200*time.Millisecond, func() { stopNow(errors.New("test stop")) })
	start := time.Now()
	var results []Result
	_ = pool.Run(ctx, stop, &sliceSource{recs: sims(20)}, func(r Result) error {
		results = append(results, r)
		return nil
	})
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("the run took %v after a stop during a 30 s Retry-After pause", elapsed)
	}
	if len(results) != 20 {
		t.Errorf("%d results, want 20", len(results))
	}
	if n := srv.Total(); n > cfg.Workers {
		t.Errorf("server saw %d requests, want only the first attempts of the SIMs in flight (%d)", n, cfg.Workers)
	}
	for _, r := range results {
		switch {
		case r.Outcome == OutcomeFailed && r.StatusCode == 429 && strings.Contains(r.Message, "stopped before a retry"):
		case r.Outcome == OutcomeNotAttempted:
		default:
			t.Errorf("unexpected result %+v", r)
		}
	}
}
