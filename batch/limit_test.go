package batch

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"
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
