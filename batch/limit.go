package batch

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pacer is the one place the pool is paced. Every HTTP attempt, retries included,
// waits for it, so the API never sees more than rate x window + burst requests.
//
// It also carries the pool's reaction to an overloaded API: a 429 cuts the shared
// rate (at most once per second, since every worker in flight sees the same 429),
// successes raise it again step by step, and a Retry-After pauses every worker
// through a gate of its own. The gate is separate from the limiter on purpose: a
// waiter that reserved at SetLimit(0) stays blocked after the limit is raised
// again (LIBRARY-NOTES.md).
type Pacer struct {
	limiter *rate.Limiter
	base    rate.Limit // the configured rate; rate.Inf when there is no limit
	workers rate.Limit // an unlimited pool is cut from at least this rate
	maxWait time.Duration
	logger  *slog.Logger
	now     func() time.Time
	window  *sendWindow // nil without a limit

	// mu guards the fields below.
	mu          sync.Mutex
	pausedUntil time.Time
	lastCut     time.Time
	ceiling     rate.Limit // where recovery stops and the base rate is restored
	taken       [10]int    // tokens taken in each of the last ten 100 ms slots
	slot        int64      // the 100 ms slot taken[slot%10] counts
}

// minRate is the floor of a 429 cut, so that the run always makes progress.
const minRate = rate.Limit(0.2)

// NewPacer returns a Pacer allowing perSecond attempts per second (0 = no limit)
// with the given burst (at least 1), for a pool of workers. Pauses asked for by
// Retry-After are capped at maxWait.
func NewPacer(perSecond float64, burst, workers int, maxWait time.Duration, logger *slog.Logger) *Pacer {
	base := rate.Inf
	if perSecond > 0 {
		base = rate.Limit(perSecond)
	}
	if burst < 1 {
		burst = 1 // burst 0 with a finite limit makes every Wait fail
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Pacer{
		limiter: rate.NewLimiter(base, burst),
		base:    base,
		workers: rate.Limit(max(workers, 1)),
		ceiling: base,
		maxWait: maxWait,
		logger:  logger,
		now:     time.Now,
		window:  newSendWindow(base, burst),
	}
}

// Wait blocks until the pool may send one more attempt: past any pause, then with
// a token from the shared limiter. It fails only when ctx is done. ctx must not
// carry a per-attempt deadline: the limiter fails at once when the wait would pass
// it, and that is no API failure.
func (p *Pacer) Wait(ctx context.Context) error {
	for {
		p.mu.Lock()
		pause := p.pausedUntil.Sub(p.now())
		p.mu.Unlock()
		if pause <= 0 {
			break
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return context.Cause(ctx)
		case <-timer.C:
		}
	}
	if err := p.limiter.Wait(ctx); err != nil {
		return err
	}
	if p.window != nil {
		if err := p.window.admit(ctx, p.now); err != nil {
			return err
		}
	}
	p.count()
	return nil
}

// maxWindow bounds the send window's memory; above this many sends a second the
// guard is left out.
const maxWindow = 1 << 16

// sendWindow holds a send until it comes at least span after the send
// rate + burst places before it, on the clock at the moment of sending, so that
// no second holds more than rate + burst sends. The limiter alone does not
// promise that where the API counts: it hands out tokens on a fixed schedule, so
// a worker woken late (a busy machine, a GC pause) sends after its slot while the
// next one sends on time, and the API sees two requests closer than 1/rate. At
// --rate 200 --burst 1 that put 205 requests in one second (216 in the pool
// benchmark). span is the shortest such gap on the limiter's own schedule,
// (floor(rate) + 1) / rate, at least a second: the guard never holds a send that
// keeps the schedule, and the extra 1/rate over a second absorbs some jitter on
// the way to the API.
type sendWindow struct {
	gate chan struct{} // one sender at a time, so the times are recorded in send order
	span time.Duration
	sent []time.Time // ring of the last len(sent) send times
	next int         // the oldest entry, overwritten by the next send
}

// newSendWindow returns the guard for a limit of perSecond with burst, or nil
// when there is no limit or it would need more than maxWindow entries.
func newSendWindow(perSecond rate.Limit, burst int) *sendWindow {
	if perSecond == rate.Inf || float64(perSecond)+float64(burst) > maxWindow {
		return nil
	}
	whole := math.Floor(float64(perSecond))
	return &sendWindow{
		gate: make(chan struct{}, 1),
		span: time.Duration((whole + 1) / float64(perSecond) * float64(time.Second)),
		sent: make([]time.Time, int(whole)+burst),
	}
}

// admit returns once a send now comes at least span after the oldest send in
// the ring, and records it; it fails only when ctx is done.
func (w *sendWindow) admit(ctx context.Context, now func() time.Time) error {
	select {
	case w.gate <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-w.gate }()
	for {
		t := now()
		oldest := w.sent[w.next]
		wait := oldest.Add(w.span).Sub(t)
		if oldest.IsZero() || wait <= 0 {
			w.sent[w.next] = t
			w.next = (w.next + 1) % len(w.sent)
			return nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return context.Cause(ctx)
		case <-timer.C:
		}
	}
}

// count records one token taken, for the observed rate an unlimited pool is cut to.
func (p *Pacer) count() {
	if p.base != rate.Inf {
		return
	}
	p.mu.Lock()
	p.advance()
	p.taken[p.slot%10]++
	p.mu.Unlock()
}

// advance moves the slot ring to now, clearing slots that have passed. Callers hold mu.
func (p *Pacer) advance() {
	slot := p.now().UnixMilli() / 100
	for s := p.slot + 1; s <= slot && s <= p.slot+10; s++ {
		p.taken[s%10] = 0
	}
	if slot > p.slot {
		p.slot = slot
	}
}

// observed is the rate of the last second, in attempts per second. Callers hold mu.
func (p *Pacer) observed() rate.Limit {
	p.advance()
	n := 0
	for _, c := range p.taken {
		n += c
	}
	return rate.Limit(n)
}

// Overloaded tells the pacer the API answered 429 (or 503 with Retry-After):
// the shared rate is halved, and retryAfter, when positive, pauses every worker
// for that long, capped at the pacer's maxWait.
func (p *Pacer) Overloaded(status int, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if retryAfter > 0 {
		if retryAfter > p.maxWait {
			retryAfter = p.maxWait
		}
		if until := now.Add(retryAfter); until.After(p.pausedUntil) {
			if p.pausedUntil.Before(now) { // one line per pause, not per answer
				p.logger.Warn("API asked to wait: pausing every worker", "status", status, "pause", retryAfter.Round(time.Millisecond))
			}
			p.pausedUntil = until
		}
	}
	if status != 429 || now.Sub(p.lastCut) < time.Second {
		return
	}
	p.lastCut = now
	cur := p.limiter.Limit()
	if cur == rate.Inf {
		// The last second's rate, but at least one request per worker per
		// second: just after a pause, or at the start, the observed rate is
		// near zero and would starve the pool.
		cur = max(p.observed(), p.workers)
		p.ceiling = 2 * cur // an unlimited pool recovers to twice the rate it was cut at, then drops the limit
	}
	next := max(cur/2, minRate)
	p.limiter.SetLimit(next)
	p.logger.Warn("API answered 429: slowing the whole pool", "rate", fmtRate(next))
}

// Succeeded raises a cut rate by one step (a twentieth of the ceiling), back to
// the configured rate.
func (p *Pacer) Succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.limiter.Limit()
	if cur >= p.ceiling || cur == rate.Inf {
		return
	}
	next := cur + p.ceiling/20
	if next >= p.ceiling {
		next = p.base
		p.ceiling = p.base
		p.logger.Info("rate restored", "rate", fmtRate(next))
	}
	p.limiter.SetLimit(next)
}

// Limit is the rate in force now, in attempts per second (+Inf when unlimited).
func (p *Pacer) Limit() float64 {
	if l := p.limiter.Limit(); l != rate.Inf { // rate.Inf is MaxFloat64, not +Inf
		return float64(l)
	}
	return math.Inf(1)
}

func fmtRate(l rate.Limit) string {
	if l == rate.Inf {
		return "unlimited"
	}
	return formatFloat(float64(l)) + "/s"
}

func formatFloat(f float64) string {
	return slog.Float64Value(math.Round(f*100) / 100).String()
}
