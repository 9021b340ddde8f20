package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Source yields input records one at a time; io.EOF ends it. *Input is one.
type Source interface {
	Next() (Record, error)
}

// Causes of a run that stopped by itself before the end of its input.
var (
	ErrAuthBreaker   = errors.New("batch: the API refused the key (401/403 before any success): check MONOZ_API_KEY and --org")
	ErrOutageBreaker = errors.New("batch: the API looks down: too many SIMs in a row failed with 5xx or transport errors")
)

// Pool resets the SIMs of a Source through a bounded set of workers sharing one
// Client and one Pacer.
type Pool struct {
	cfg    Config
	client *Client
	pacer  *Pacer
	logger *slog.Logger
	skip   func(iccid string) bool
}

// Option wires a Pool's internals.
type Option func(*poolWiring)

type poolWiring struct {
	logger    *slog.Logger
	transport http.RoundTripper
	skip      func(string) bool
}

// WithLogger sends the pool's notices (rate cuts, breakers; per-SIM lines at debug) to l.
func WithLogger(l *slog.Logger) Option { return func(w *poolWiring) { w.logger = l } }

// WithTransport replaces the HTTP transport under the retries and the pacing.
func WithTransport(rt http.RoundTripper) Option { return func(w *poolWiring) { w.transport = rt } }

// WithSkip marks the ICCIDs for which skip reports true as already reset by an
// earlier run (--resume): they are not called, and their line says skipped.
func WithSkip(skip func(iccid string) bool) Option { return func(w *poolWiring) { w.skip = skip } }

// NewPool validates cfg and returns a Pool ready to Run.
func NewPool(cfg Config, opts ...Option) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	w := poolWiring{logger: slog.New(slog.DiscardHandler), skip: func(string) bool { return false }}
	for _, opt := range opts {
		opt(&w)
	}
	pacer := NewPacer(cfg.Rate, cfg.Burst, cfg.Workers, cfg.MaxWait, w.logger)
	return &Pool{
		cfg:    cfg,
		client: NewClient(cfg, pacer, w.transport, w.logger),
		pacer:  pacer,
		logger: w.logger,
		skip:   w.skip,
	}, nil
}

// Run resets every SIM that src yields and hands each record's Result to emit,
// exactly one per record, all from the calling goroutine (emit needs no lock).
//
// When stop is done, Run starts no new SIM: those in flight finish and every
// record not yet started is emitted as not_attempted. When ctx is done, requests
// in flight are cancelled as well. stop should be derived from ctx.
//
// Run returns nil when src ran out; context.Cause(stop) when the run stopped first
// (ErrAuthBreaker or ErrOutageBreaker when a breaker tripped); or an error from
// src or emit, after which no more results are emitted.
func (p *Pool) Run(ctx, stop context.Context, src Source, emit func(Result) error) error {
	// requests is cancelled by the second stop (ctx) or when results can no longer
	// be written; aborted tells the feeder the latter, the only reason it gives up
	// before the end of src.
	requests, cancelRequests := context.WithCancelCause(ctx)
	defer cancelRequests(nil)
	stopCtx, trip := context.WithCancelCause(stop)
	defer trip(nil)
	aborted := make(chan struct{})

	work := make(chan Record)
	results := make(chan Result, p.cfg.Workers)
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(work)
		readErr = p.feed(aborted, stopCtx, src, work, results)
	})
	for range p.cfg.Workers {
		wg.Go(func() {
			for rec := range work {
				if stopCtx.Err() != nil {
					results <- notAttempted(rec, context.Cause(stopCtx))
					continue
				}
				results <- p.reset(requests, stopCtx, rec)
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	var emitErr error
	b := breakers{maxConsecutive: p.cfg.MaxConsecutiveFailures}
	for r := range results {
		if emitErr != nil {
			continue // drain, so every goroutine ends
		}
		if err := emit(r); err != nil {
			emitErr = err
			close(aborted)
			trip(err)
			cancelRequests(err)
			continue
		}
		if cause := b.observe(r); cause != nil && stopCtx.Err() == nil {
			p.logger.Error("breaker tripped: starting no more SIMs", "reason", cause.Error())
			trip(cause)
		}
	}
	switch {
	case emitErr != nil:
		return emitErr
	case readErr != nil:
		return readErr
	case stopCtx.Err() != nil && b.tripped != nil:
		return b.tripped
	case stop.Err() != nil:
		return context.Cause(stop)
	}
	return nil
}

// feed reads src to its end, sending SIMs to reset to the workers and every other
// record straight to results. Once stopCtx is done it keeps reading, so that every
// record still gets its not_attempted line; it gives up only when aborted is closed.
func (p *Pool) feed(aborted <-chan struct{}, stopCtx context.Context, src Source, work chan<- Record, results chan<- Result) error {
	for {
		rec, err := src.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-aborted:
			return nil // Run reports the write error
		default:
		}
		if rec.Outcome == "" && p.skip(rec.ICCID) {
			rec.Outcome, rec.Message = OutcomeSkipped, "reset by an earlier run"
		}
		if rec.Outcome != "" {
			results <- rec.Result(time.Now())
			continue
		}
		if stopCtx.Err() != nil {
			results <- notAttempted(rec, context.Cause(stopCtx))
			continue
		}
		select {
		case work <- rec:
		case <-stopCtx.Done():
			results <- notAttempted(rec, context.Cause(stopCtx))
		}
	}
}

func (p *Pool) reset(ctx, stop context.Context, rec Record) Result {
	r := p.client.Reset(ctx, stop, rec)
	if rec.Message != "" { // a warning from the reader, such as a failed Luhn check
		r.Message += " (" + rec.Message + ")"
	}
	p.logger.Debug("sim", "row", r.Row, "iccid", r.ICCID, "outcome", r.Outcome, "status", r.StatusCode,
		"attempts", r.Attempts, "ms", r.Duration.Milliseconds(), "message", r.Message)
	return r
}

func notAttempted(rec Record, cause error) Result {
	r := rec.Result(time.Now())
	r.Outcome = OutcomeNotAttempted
	r.Message = "not sent: the run stopped first"
	if cause != nil {
		r.Message = fmt.Sprintf("not sent: the run stopped first (%v)", cause)
	}
	return r
}

// breakers watch results in the order they complete.
type breakers struct {
	maxConsecutive int   // 0 = outage breaker off
	succeeded      bool  // any reset yet: from then on a 401/403 is about one SIM
	authFailures   int   // SIMs answered 401/403 before any success
	consecutive    int   // SIMs in a row failed with 5xx or a transport error
	tripped        error // the first breaker that tripped
}

// observe takes one result and returns a cause when a breaker trips.
func (b *breakers) observe(r Result) error {
	if r.Attempts == 0 {
		return nil // not sent: says nothing about the API
	}
	switch {
	case r.Outcome == OutcomeReset:
		b.succeeded = true
		b.consecutive = 0
	case r.StatusCode == http.StatusUnauthorized || r.StatusCode == http.StatusForbidden:
		b.consecutive = 0
		if !b.succeeded {
			b.authFailures++
		}
	case r.StatusCode == 0 || r.StatusCode >= 500:
		b.consecutive++
	default:
		b.consecutive = 0
	}
	if b.tripped == nil {
		switch {
		case b.authFailures >= AuthFailuresToAbort:
			b.tripped = ErrAuthBreaker
		case b.maxConsecutive > 0 && b.consecutive >= b.maxConsecutive:
			b.tripped = ErrOutageBreaker
		}
		return b.tripped
	}
	return nil
}
