package batch

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestRetryAfterPausesEveryWorker(t *testing.T) {
	p := NewPacer(0, 1, 4, 300*time.Millisecond, nil)
	p.Overloaded(503, time.Hour) // capped at maxWait
	start := time.Now()
	var wg sync.WaitGroup
	waited := make([]time.Duration, 4)
	for i := range waited {
		wg.Go(func() {
			if err := p.Wait(context.Background()); err != nil {
				t.Error(err)
			}
			waited[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i, d := range waited {
		if d < 250*time.Millisecond || d > 2*time.Second {
			t.Errorf("worker %d waited %v, want the capped pause of 300ms", i, d)
		}
	}
}

func TestWaitEndsWithTheContext(t *testing.T) {
	p := NewPacer(0, 1, 1, time.Minute, nil)
	p.Overloaded(429, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Wait(ctx); err == nil {
		t.Fatal("Wait returned nil during a pause whose context ended")
	}
}

func TestA429CutsTheRateAndSuccessesRestoreIt(t *testing.T) {
	p := NewPacer(100, 1, 4, time.Second, nil)
	p.Overloaded(429, 0)
	if got := p.Limit(); got != 50 {
		t.Fatalf("after a 429: %v/s, want 50", got)
	}
	p.Overloaded(429, 0) // the same burst of 429s: no second cut within a second
	if got := p.Limit(); got != 50 {
		t.Errorf("after a second 429 at once: %v/s, want still 50", got)
	}
	p.Overloaded(503, 0) // a 503 pauses (with Retry-After) but does not cut
	if got := p.Limit(); got != 50 {
		t.Errorf("after a 503: %v/s, want still 50", got)
	}
	steps := 0
	for p.Limit() < 100 {
		p.Succeeded()
		if steps++; steps > 100 {
			t.Fatal("the rate never recovers")
		}
	}
	if got := p.Limit(); got != 100 || steps != 10 {
		t.Errorf("recovered to %v/s in %d steps, want 100/s in 10 (a twentieth of 100 each)", got, steps)
	}
}

func TestAnUnlimitedPoolIsCutThenUnlimitedAgain(t *testing.T) {
	p := NewPacer(0, 1, 8, time.Second, nil)
	p.Overloaded(429, 0)
	if got := p.Limit(); got != 4 {
		t.Fatalf("after a 429 with nothing observed: %v/s, want half of one per worker (4)", got)
	}
	for range 100 {
		p.Succeeded()
	}
	if got := p.Limit(); !math.IsInf(got, 1) {
		t.Errorf("after successes: %v/s, want unlimited again", got)
	}
}

func TestBurstZeroStillSends(t *testing.T) {
	p := NewPacer(1000, 0, 1, time.Second, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("Wait with burst 0: %v (a zero burst makes every wait fail)", err)
	}
}

// TestSendWindowKeepsEverySecondWithinRatePlusBurst drives the guard with a
// fake clock: whatever the limiter did, no send may come sooner after the send
// rate + burst places before it than the limiter's own schedule allows
// ((floor(rate) + 1) / rate, at least a second).
func TestSendWindowKeepsEverySecondWithinRatePlusBurst(t *testing.T) {
	if newSendWindow(rate.Inf, 1) != nil {
		t.Error("an unlimited pacer has a send window")
	}
	w := newSendWindow(4, 1) // 4/s + 1: five sends at most in any second, at least 1.25 s apart on the schedule
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	for _, tc := range []struct {
		at    time.Duration // fake time of the send, from t0
		admit bool
	}{
		{0, true},
		{600 * ms, true}, // a late token, then the next ones on time
		{600 * ms, true},
		{750 * ms, true},
		{1000 * ms, true},
		{1249 * ms, false}, // the sixth, within 1.25 s of the first
		{1250 * ms, true},
		{1800 * ms, false}, // within 1.25 s of the send at 600 ms
		{1850 * ms, true},
		{1850 * ms, true},
	} {
		now := func() time.Time { return t0.Add(tc.at) }
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := w.admit(ctx, now)
		cancel()
		if got := err == nil; got != tc.admit {
			t.Errorf("send at %v: admitted %v, want %v (%v)", tc.at, got, tc.admit, err)
		}
	}
}
