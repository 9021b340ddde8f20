package report

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simreset/simreset/batch"
)

// syncBuffer is a bytes.Buffer safe for the log loop writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until out() contains want, for at most two seconds.
func waitFor(t *testing.T, out func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(out(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output:\n%s", want, out())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProgressLogMode(t *testing.T) {
	for _, tc := range []struct {
		name      string
		total     int
		logger    bool
		want      []string
		wantNoETA bool
	}{
		{name: "default handler", total: 10, want: []string{"msg=progress", "done=3", "total=10", "percent=30.0", "failed=1"}},
		{name: "given logger", total: 10, logger: true, want: []string{`"msg":"progress"`, `"done":3`, `"total":10`, `"failed":1`}},
		{name: "unknown total", total: 0, want: []string{"msg=progress", "done=3", "failed=1"}, wantNoETA: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			opts := ProgressOptions{Mode: ProgressLog, Total: tc.total, Writer: &out, Interval: 10 * time.Millisecond}
			if tc.logger {
				opts.Logger = slog.New(slog.NewJSONHandler(&out, nil))
			}
			p, err := NewProgress(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if p.Mode() != ProgressLog {
				t.Errorf("Mode() = %q, want log", p.Mode())
			}
			p.Add(batch.Result{Outcome: batch.OutcomeReset})
			p.Add(batch.Result{Outcome: batch.OutcomeFailed})
			p.Add(batch.Result{Outcome: batch.OutcomeInvalid})
			for _, w := range tc.want {
				waitFor(t, out.String, w)
			}
			if tc.wantNoETA && (strings.Contains(out.String(), "eta") || strings.Contains(out.String(), "total")) {
				t.Errorf("unknown total but a total or ETA is shown:\n%s", out.String())
			}
			p.Close()
			n := len(out.String())
			time.Sleep(30 * time.Millisecond)
			if len(out.String()) != n {
				t.Error("log lines after Close")
			}
		})
	}
}

func TestProgressLogModeETA(t *testing.T) {
	var out syncBuffer
	p, err := NewProgress(ProgressOptions{Mode: ProgressLog, Total: 1_000_000, Writer: &out, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 100 {
		p.Add(batch.Result{Outcome: batch.OutcomeReset})
	}
	waitFor(t, out.String, "eta=")
}

func TestProgressSetLogger(t *testing.T) {
	var plain, json syncBuffer
	p, err := NewProgress(ProgressOptions{Mode: ProgressLog, Total: 4, Writer: &plain, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetLogger(slog.New(slog.NewJSONHandler(&json, nil)))
	p.Add(batch.Result{Outcome: batch.OutcomeReset})
	waitFor(t, json.String, `"done":1,"total":4`)
}

func TestProgressBarMode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		total int
		adds  int
	}{
		{"total 0", 0, 5},
		{"known total", 3, 3},
		{"total counted too low", 2, 5},
		{"nothing added", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p, err := NewProgress(ProgressOptions{Mode: ProgressBar, Total: tc.total, Writer: &out})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.adds {
				o := batch.OutcomeReset
				if i == 0 {
					o = batch.OutcomeFailed
				}
				p.Add(batch.Result{Outcome: o})
			}
			p.Close()
			p.Close()
			p.Add(batch.Result{Outcome: batch.OutcomeReset}) // after Close: counted, not drawn
			if got, want := p.Done(), tc.adds+1; got != want {
				t.Errorf("Done() = %d, want %d", got, want)
			}
			if out.Len() == 0 {
				t.Error("the bar drew nothing")
			}
			// Close leaves the cursor at the start of an erased line.
			if s := out.String(); !strings.HasSuffix(s, "\r") {
				t.Errorf("output does not end with an erased line: %q", s[max(len(s)-40, 0):])
			}
		})
	}
}

func TestProgressBarLogWriter(t *testing.T) {
	var out bytes.Buffer
	p, err := NewProgress(ProgressOptions{Mode: ProgressBar, Total: 10, Writer: &out})
	if err != nil {
		t.Fatal(err)
	}
	p.Add(batch.Result{Outcome: batch.OutcomeReset})
	before := out.Len()
	log := slog.New(slog.NewTextHandler(p.LogWriter(), nil))
	log.Info("hello")
	p.Close()
	s := out.String()[before:]
	// The bar is erased (spaces, then CR) before the line, so it starts in column 0.
	i := strings.Index(s, "time=")
	if i < 0 {
		t.Fatalf("log line missing: %q", s)
	}
	if i == 0 || s[i-1] != '\r' {
		t.Errorf("log line does not start on an erased line: %q", s)
	}
	if !strings.Contains(s, "msg=hello\n") {
		t.Errorf("log line cut: %q", s)
	}
}

func TestProgressModes(t *testing.T) {
	var buf bytes.Buffer
	for _, tc := range []struct {
		mode, want string
	}{
		{"", ProgressLog},     // a buffer is no terminal
		{"auto", ProgressLog}, // idem
		{"bar", ProgressBar},
		{"log", ProgressLog},
		{"off", ProgressOff},
	} {
		p, err := NewProgress(ProgressOptions{Mode: tc.mode, Writer: &buf})
		if err != nil {
			t.Fatalf("mode %q: %v", tc.mode, err)
		}
		if got := p.Mode(); got != tc.want {
			t.Errorf("mode %q resolved to %q, want %q", tc.mode, got, tc.want)
		}
		if tc.want != ProgressBar && p.LogWriter() != &buf {
			t.Errorf("mode %q: LogWriter is not the plain writer", tc.mode)
		}
		p.Close()
	}
	if _, err := NewProgress(ProgressOptions{Mode: "fancy"}); err == nil || !strings.Contains(err.Error(), `"fancy"`) {
		t.Errorf("unknown mode: err = %v, want one naming it", err)
	}
}

func TestProgressOffWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	p, err := NewProgress(ProgressOptions{Mode: ProgressOff, Total: 3, Writer: &buf, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p.Add(batch.Result{Outcome: batch.OutcomeFailed})
	p.Close()
	if buf.Len() != 0 || p.Done() != 1 || p.Failed() != 1 {
		t.Errorf("off mode wrote %q, counted %d done %d failed", buf.String(), p.Done(), p.Failed())
	}
}

// TestProgressConcurrentAdd is for go test -race: Adds from many goroutines while
// log lines go through LogWriter and the log loop ticks.
func TestProgressConcurrentAdd(t *testing.T) {
	for _, mode := range []string{ProgressBar, ProgressLog, ProgressOff} {
		t.Run(mode, func(t *testing.T) {
			var out syncBuffer
			p, err := NewProgress(ProgressOptions{Mode: mode, Total: 800, Writer: &out, Interval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.NewTextHandler(p.LogWriter(), nil))
			p.SetLogger(log)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 100 {
						o := batch.OutcomeReset
						if i%10 == 0 {
							o = batch.OutcomeFailed
						}
						p.Add(batch.Result{Outcome: o})
						if i%25 == 0 {
							log.Info("worker", "g", g, "i", i)
						}
					}
				})
			}
			wg.Wait()
			p.Close()
			if p.Done() != 800 || p.Failed() != 80 {
				t.Errorf("Done() = %d, Failed() = %d; want 800, 80", p.Done(), p.Failed())
			}
		})
	}
}
