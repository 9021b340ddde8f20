package mockapi

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestURL(t *testing.T) {
	s := NewUnstartedServer(Config{})
	if got := s.URL(); got != "" {
		t.Errorf("URL before Start = %q, want empty", got)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.URL(); !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*/api/v1$`).MatchString(got) {
		t.Errorf("URL = %q, want http://127.0.0.1:PORT/api/v1", got)
	}
}

func TestStartAndCloseLifecycle(t *testing.T) {
	s := NewServer(Config{})
	if err := s.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	s.Close()
	s.Close() // twice is fine
	if err := s.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
	if got := send(t, newClient(t), s, call{}); got.err == nil {
		t.Errorf("closed server answered %d", got.status)
	}

	u := NewUnstartedServer(Config{})
	u.Close() // closing an unstarted server is fine
	if err := u.Start(); err == nil {
		t.Error("Start after Close of an unstarted server succeeded")
	}
}

func TestCloseEndsHangsQuickly(t *testing.T) {
	const hanging = 3
	s := NewServer(Config{FailHang: 1, HangFor: time.Hour})
	c := newClient(t)
	errs := make(chan error, hanging)
	for range hanging {
		go func() { errs <- send(t, c, s, call{}).err }()
	}
	waitFor(t, func() bool { return s.StatusCounts()[StatusHang] == hanging })

	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with hanging requests", d)
	}
	for range hanging {
		if err := <-errs; err == nil {
			t.Error("a hanging request got an answer")
		}
	}
}

func TestCloseEndsLatencyAndIdleConnections(t *testing.T) {
	s := NewServer(Config{Latency: time.Hour})
	errs := make(chan error, 1)
	go func() { errs <- send(t, newClient(t), s, call{}).err }()
	// An idle keep-alive connection from another client must not hold Close.
	idle := NewServer(Config{})
	send(t, newClient(t), idle, call{})
	waitFor(t, func() bool { return s.Total() == 1 })

	start := time.Now()
	s.Close()
	idle.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := <-errs; err == nil {
		t.Error("the delayed request got an answer after Close")
	}
	if got := s.StatusCounts()[StatusNone]; got != 1 {
		t.Errorf("StatusNone counted %d, want 1", got)
	}
}

func TestCloseWaitsForAnswersInFlight(t *testing.T) {
	s := NewServer(Config{Latency: 50 * time.Millisecond})
	defer s.Close()
	c := newClient(t)
	results := make(chan reply, 1)
	go func() { results <- send(t, c, s, call{}) }()
	waitFor(t, func() bool { return s.Total() == 1 })
	// Close stops the latency wait: the request is dropped, not answered late.
	s.Close()
	if r := <-results; r.err == nil {
		t.Errorf("got %d after Close", r.status)
	}
}

func TestServeRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:8080", "example.com:80", "10.0.0.1:0"} {
		t.Run(addr, func(t *testing.T) {
			err := Serve(context.Background(), addr, Config{}, nil)
			if !errors.Is(err, ErrNotLoopback) {
				t.Errorf("Serve(%q) = %v, want ErrNotLoopback", addr, err)
			}
		})
	}
	if err := Serve(context.Background(), "no-port", Config{}, nil); err == nil || errors.Is(err, ErrNotLoopback) {
		t.Errorf("Serve(no-port) = %v, want an address error", err)
	}
}

func TestServe(t *testing.T) {
	logs := &recorder{ch: make(chan slog.Record, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "127.0.0.1:0", Config{APIKey: testKey}, slog.New(logs)) }()

	first := logs.next(t)
	url := attr(first, "url")
	if first.Message != "mock-api listening" || url == "" {
		t.Fatalf("first log line %q url=%q", first.Message, url)
	}
	for range 2 {
		r := sendTo(t, newClient(t), strings.TrimSuffix(url, BasePath), call{})
		if r.status != 200 {
			t.Fatalf("got %d %v, want 200", r.status, r.err)
		}
	}
	counts := logs.next(t) // within about a second
	if counts.Message != "mock-api" || attr(counts, "total") != "2" || attr(counts, "status.200") != "2" {
		t.Errorf("count line %q total=%s status.200=%s", counts.Message, attr(counts, "total"), attr(counts, "status.200"))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if last := logs.next(t); last.Message != "mock-api stopped" {
		t.Errorf("last log line %q", last.Message)
	}
}

func TestServeListenError(t *testing.T) {
	s := startServer(t, Config{})
	busy := hostOf(s)[len("http://"):]
	if err := Serve(context.Background(), busy, Config{}, nil); err == nil || errors.Is(err, ErrNotLoopback) {
		t.Errorf("Serve on a busy port = %v, want a listen error", err)
	}
}

// recorder is a slog.Handler that hands records to the test.
type recorder struct {
	mu sync.Mutex
	ch chan slog.Record
}

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ch <- r.Clone()
	return nil
}
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recorder) WithGroup(string) slog.Handler      { return h }

func (h *recorder) next(t *testing.T) slog.Record {
	t.Helper()
	select {
	case r := <-h.ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no log line within 5s")
		return slog.Record{}
	}
}

// attr returns the value of a top-level attribute, or of "group.key".
func attr(r slog.Record, key string) string {
	var val string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			val = a.Value.String()
			return false
		}
		if a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				if a.Key+"."+g.Key == key {
					val = g.Value.String()
					return false
				}
			}
		}
		return true
	})
	return val
}
