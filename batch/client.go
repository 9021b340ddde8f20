package batch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Client resets one SIM at a time through the monoz API: one PUT per SIM, retried
// by go-retryablehttp under SPEC.md section 6, every attempt paced by the shared
// Pacer. It is safe for concurrent use.
type Client struct {
	retrying         *retryablehttp.Client
	endpoint         string
	apiKey           string
	maxWait          time.Duration
	noRetryUncertain bool
}

// resetBody is the request body of PUT .../Sim/Reset.
type resetBody struct {
	ICCID string `json:"ICCID"`
}

// apiAnswer is the answer body. Later versions of the API documentation dropped
// Error from the success answer, so it is optional. Both fields stay raw so that
// an odd type (a string "true", a number) does not make the answer unreadable.
type apiAnswer struct {
	Error   json.RawMessage `json:"Error"`
	Message json.RawMessage `json:"Message"`
}

// flagsError tells whether an answer's Error field says there was an error:
// true, or the same spelled as a string or a number.
func (a apiAnswer) flagsError() bool {
	switch strings.ToLower(strings.Trim(string(a.Error), `" `)) {
	case "true", "1":
		return true
	}
	return false
}

// message is the answer's Message as text.
func (a apiAnswer) message() string {
	var s string
	if json.Unmarshal(a.Message, &s) == nil {
		return s
	}
	return string(a.Message)
}

// NewClient returns a Client for cfg (already validated) that takes every attempt's
// token from pacer. transport is the HTTP transport underneath; nil means one
// built for cfg.Workers connections.
func NewClient(cfg Config, pacer *Pacer, transport http.RoundTripper, logger *slog.Logger) *Client {
	cfg = cfg.withDefaults()
	if transport == nil {
		transport = newTransport(cfg.Workers)
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{
		Transport: &pacedTransport{next: transport, pacer: pacer, timeout: cfg.Timeout},
		// The API does not redirect; following one could carry the key elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	rc.RetryMax = cfg.Retries
	rc.RetryWaitMin = cfg.BackoffMin
	rc.RetryWaitMax = cfg.BackoffMax
	// The default logger prints a line per request to stderr; ours logs at debug.
	rc.Logger = nil
	if logger != nil && logger.Enabled(context.Background(), slog.LevelDebug) {
		rc.Logger = retryLogger{logger}
	}
	c := &Client{
		retrying:         rc,
		endpoint:         strings.TrimRight(cfg.BaseURL, "/") + "/" + url.PathEscape(cfg.Org) + "/Sim/Reset",
		apiKey:           cfg.APIKey,
		maxWait:          cfg.MaxWait,
		noRetryUncertain: cfg.NoRetryUncertain,
	}
	rc.CheckRetry = c.checkRetry
	rc.Backoff = c.backoff
	// The default handler drops the last answer and returns an error carrying the
	// URL; we want the final status code and write our own message.
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return c
}

// newTransport is a plain http.Transport sized for the pool: the pooled default
// keeps only GOMAXPROCS+1 idle connections per host.
func newTransport(workers int) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          workers + 8,
		MaxIdleConnsPerHost:   workers + 8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// Reset resets the SIM of rec, retrying as SPEC.md section 6 says, and returns its
// result line. It never returns an error: a failed SIM is data.
//
// When stop is done, no new attempt starts: a wait for a token, a pause or a
// backoff ends at once, and the last answer stands. An attempt on the wire is
// cancelled only with ctx.
func (c *Client) Reset(ctx, stop context.Context, rec Record) Result {
	res := c.reset(ctx, stop, rec)
	if c.apiKey != "" { // an API that echoes the key must not put it in the result file
		res.Message = strings.ReplaceAll(res.Message, c.apiKey, "[redacted]")
	}
	return res
}

func (c *Client) reset(ctx, stop context.Context, rec Record) Result {
	log := &attemptLog{inFlight: ctx}
	waits, cancelWaits := context.WithCancelCause(ctx)
	defer cancelWaits(nil)
	defer context.AfterFunc(stop, func() { cancelWaits(context.Cause(stop)) })()

	res := Result{Row: rec.Row, ICCID: rec.ICCID, Outcome: OutcomeFailed}
	body, _ := json.Marshal(resetBody{ICCID: rec.ICCID}) // a struct of one string cannot fail
	req, err := retryablehttp.NewRequestWithContext(withAttemptLog(waits, log), http.MethodPut, c.endpoint, body)
	if err != nil {
		res.Message = "cannot build the request: " + err.Error()
		res.FinishedAt = time.Now()
		return res
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-API-Key", c.apiKey)

	resp, err := c.retrying.Do(req)
	end := time.Now()
	res.FinishedAt = end
	res.Attempts = int(log.attempts.Load())
	if first := log.first.Load(); first != 0 {
		res.Duration = end.Sub(time.Unix(0, first))
	}
	if res.Attempts == 0 {
		// Stopped while waiting for a token: nothing reached the API.
		res.Outcome = OutcomeNotAttempted
		res.Message = "not sent: the run stopped first"
		return res
	}
	if err != nil && resp == nil && waits.Err() != nil && ctx.Err() == nil {
		// Stopped between attempts: the latest answer stands.
		res.StatusCode = int(log.lastStatus.Load())
		res.Message = "stopped before a retry"
		if res.StatusCode != 0 {
			res.Message += fmt.Sprintf(" (last answer: %d %s)", res.StatusCode, http.StatusText(res.StatusCode))
		}
		return res
	}
	if err != nil {
		res.Message = describeError(ctx, err, log)
		return res
	}
	defer resp.Body.Close()
	res.StatusCode = resp.StatusCode
	res.Outcome, res.Message = judge(resp)
	return res
}

// judge reads a final answer: success is a 2xx whose body does not say
// "Error": true; the Message is never matched on. A 2xx that is not the API's
// JSON (a proxy's or captive portal's page) is no proof of a reset: failed, so
// that --resume tries the SIM again.
func judge(resp *http.Response) (Outcome, string) {
	var ans apiAnswer
	raw, _ := readBounded(resp.Body) // already in memory: the paced transport read it
	empty := len(bytes.TrimSpace(raw)) == 0
	isJSON := json.Unmarshal(raw, &ans) == nil
	outcome := OutcomeFailed
	if resp.StatusCode >= 200 && resp.StatusCode < 300 && (isJSON || empty) && !ans.flagsError() {
		outcome = OutcomeReset
	}
	switch {
	case isJSON && ans.message() != "":
		return outcome, ans.message()
	case isJSON || empty:
		return outcome, http.StatusText(resp.StatusCode)
	default:
		kind, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if kind == "" {
			kind = "unknown type"
		}
		return outcome, fmt.Sprintf("%s: not a JSON answer (%s, %d bytes)", http.StatusText(resp.StatusCode), kind, len(raw))
	}
}

// checkRetry is the retry policy of SPEC.md section 6. go-retryablehttp's default
// retries every transport error, including a timeout after the PUT reached the API.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		// Stopped: no new attempt, and no error of ours either, so that the
		// answer or error of the attempt that just ended is what Do returns.
		return false, nil
	}
	if err != nil {
		switch classify(err, attemptLogFrom(ctx)) {
		case neverSent:
			return true, nil
		case maybeSent:
			return !c.noRetryUncertain, nil
		default:
			return false, nil
		}
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil
}

// backoff is exponential with jitter; a Retry-After on 429 or 503 takes its
// place. Both are capped at --max-wait: go-retryablehttp does not cap Retry-After
// (its issue #247).
func (c *Client) backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if ra := retryAfter(resp, time.Now()); ra > 0 {
			return min(ra, c.maxWait)
		}
	}
	wait := hi
	if attempt < 30 && lo<<attempt < hi {
		wait = lo << attempt
	}
	// Half fixed, half random: spreads the retries of a pool that failed together.
	wait = wait/2 + rand.N(wait/2+1)
	return min(wait, c.maxWait)
}

// sendState says whether a failed attempt may have reached the API.
type sendState int

const (
	neverSent sendState = iota // dial failure, refused, TLS handshake: always retried
	maybeSent                  // timeout awaiting the answer, reset mid-answer: retried unless --no-retry-uncertain
	hopeless                   // retrying cannot help (certificate not trusted, bad URL)
)

func classify(err error, log *attemptLog) sendState {
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return hopeless
	case log != nil && log.wrote.Load():
		return maybeSent
	default:
		return neverSent
	}
}

// describeError turns a final transport error into a short result message. The
// library's error text carries the full URL, so it is never written as it is.
func describeError(ctx context.Context, err error, log *attemptLog) string {
	if ctx.Err() != nil {
		if log.wrote.Load() {
			return "stopped in flight: the reset may or may not have been started"
		}
		return "stopped before the answer: not sent"
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	var msg string
	switch {
	case errors.Is(err, errAttemptTimeout):
		msg = "no answer within the timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		msg = "connection reset by the server"
	default:
		msg = err.Error()
	}
	switch classify(err, log) {
	case maybeSent:
		msg += " (the request may have reached the API)"
	case neverSent:
		msg += " (not sent)"
	}
	return msg
}

// retryLogger sends go-retryablehttp's own messages to slog at debug level.
type retryLogger struct{ l *slog.Logger }

func (r retryLogger) Error(msg string, kv ...any) { r.l.Debug("http: "+msg, redact(kv)...) }
func (r retryLogger) Info(msg string, kv ...any)  { r.l.Debug("http: "+msg, redact(kv)...) }
func (r retryLogger) Debug(msg string, kv ...any) { r.l.Debug("http: "+msg, redact(kv)...) }
func (r retryLogger) Warn(msg string, kv ...any)  { r.l.Debug("http: "+msg, redact(kv)...) }

// redact drops request values from the library's log pairs: they carry headers
// (the key) when printed with %v.
func redact(kv []any) []any {
	out := kv[:0:0]
	for i := 0; i+1 < len(kv); i += 2 {
		switch kv[i+1].(type) {
		case *http.Request, *retryablehttp.Request, http.Header:
			continue
		}
		out = append(out, kv[i], kv[i+1])
	}
	return out
}
