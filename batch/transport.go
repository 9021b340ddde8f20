package batch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"
)

// MaxAnswerBytes bounds how much of an answer body is kept: the API's JSON is a
// few dozen bytes, a gateway's HTML error page a few KB.
const MaxAnswerBytes = 64 << 10

// maxDrainBytes is how much more is read and dropped so the connection can be
// reused; a body larger than that closes its connection instead.
const maxDrainBytes = 256 << 10

// attemptLog follows one SIM through its attempts. The paced transport fills it
// in; the retry policy reads it to tell "surely never sent" from "may have
// reached the API". Attempts run one after another, but httptrace callbacks may
// run on the transport's goroutines, hence the atomics.
type attemptLog struct {
	attempts   atomic.Int32
	wrote      atomic.Bool  // the current attempt's request was fully written
	first      atomic.Int64 // unix nanos when the first attempt was sent
	lastStatus atomic.Int32 // the status of the latest answer; 0 when none came

	// inFlight is what an attempt on the wire runs under: only the second
	// stop cancels it. The request's own context is cancelled by the first
	// stop too, which ends waits for a token, a pause or a backoff.
	inFlight context.Context
}

type attemptKey struct{}

func withAttemptLog(ctx context.Context, log *attemptLog) context.Context {
	return context.WithValue(ctx, attemptKey{}, log)
}

func attemptLogFrom(ctx context.Context) *attemptLog {
	log, _ := ctx.Value(attemptKey{}).(*attemptLog)
	return log
}

// pacedTransport is the RoundTripper under go-retryablehttp. Retries happen in
// the library's loop, so this is the only place that sees every attempt: each one
// takes a token from the shared Pacer, gets its own timeout, and has its answer
// read (bounded) before the timeout ends, so a stalled body is a failed attempt
// that can be retried rather than an error after the retry loop.
//
// It deliberately has no CloseIdleConnections: go-retryablehttp calls it after
// every request that finally fails, which would drop the whole pool's connections.
type pacedTransport struct {
	next    http.RoundTripper
	pacer   *Pacer
	timeout time.Duration
}

func (t *pacedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	log := attemptLogFrom(req.Context())
	if log == nil {
		log = &attemptLog{inFlight: req.Context()}
	}
	if err := t.pacer.Wait(req.Context()); err != nil {
		return nil, err
	}
	if log.attempts.Add(1) == 1 {
		log.first.Store(time.Now().UnixNano())
	}
	log.wrote.Store(false)

	ctx, cancel := context.WithTimeoutCause(log.inFlight, t.timeout, errAttemptTimeout)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { log.wrote.Store(true) },
	})
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, attemptError(ctx, err)
	}
	body, err := readBounded(resp.Body)
	if err != nil {
		return nil, attemptError(ctx, fmt.Errorf("reading the answer: %w", err))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	log.lastStatus.Store(int32(resp.StatusCode))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		t.pacer.Overloaded(resp.StatusCode, retryAfter(resp, time.Now()))
	} else if resp.StatusCode < 300 {
		t.pacer.Succeeded()
	}
	return resp, nil
}

// errAttemptTimeout is the cause of an attempt's context when --timeout passed.
var errAttemptTimeout = fmt.Errorf("no answer in time")

// attemptError names a timeout by its cause: the transport only says "context
// deadline exceeded", which an operator cannot tell from a stop.
func attemptError(ctx context.Context, err error) error {
	if context.Cause(ctx) == errAttemptTimeout {
		return fmt.Errorf("%w: %w", errAttemptTimeout, err)
	}
	return err
}

// readBounded reads at most MaxAnswerBytes of body, drops up to maxDrainBytes more
// so the connection can be reused, and closes it.
func readBounded(body io.ReadCloser) ([]byte, error) {
	defer body.Close()
	buf, err := io.ReadAll(io.LimitReader(body, MaxAnswerBytes))
	if err != nil {
		return buf, err
	}
	_, _ = io.CopyN(io.Discard, body, maxDrainBytes)
	return buf, nil
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date; 0 when
// absent or unreadable.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if when, err := http.ParseTime(v); err == nil {
		if d := when.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
