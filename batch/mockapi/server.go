// Package mockapi simulates the monoz SIM reset endpoint on loopback, with
// latency, faults, a server-side rate limit and a ledger of every request, so
// that tests, `simreset demo`, `simreset mock-api` and the benchmarks can run
// the client against something that behaves like the real API. It is shaped
// like net/http/httptest: NewServer listens on 127.0.0.1 on a random port, URL
// has no trailing slash, Close waits for requests in flight.
//
// The endpoint is `PUT {URL}/{OrganizationId}/Sim/Reset` with a JSON body
// {"ICCID": "..."}, a Content-Type of application/json and an X-API-Key header.
// Answers are JSON {"Error": bool, "StatusCode": int, "Message": string}:
//
//	200 {"Error":false,"StatusCode":200,"Message":"UpdateSuccess"}
//	400 body is not JSON, has no ICCID string, is over 64 KB, or the content type is not JSON
//	401 missing or wrong X-API-Key, or an organisation other than Config.Org
//	404 "ICCID not found" (Config.Unknown), or any other path
//	405 any method but PUT
//
// Requests are checked in this order: method, path, then (after reading the
// body) the ICCID's Script, RateLimit, the random faults, the key and
// organisation, the body, Unknown.
package mockapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Defaults applied to zero Config fields.
const (
	// DefaultHangFor is how long a hang lasts when Config.HangFor is zero.
	DefaultHangFor = time.Minute
	// DefaultMaxRecorded is how many requests Requests keeps when
	// Config.MaxRecorded is zero.
	DefaultMaxRecorded = 10000
	// MaxBodyBytes is the largest request body accepted; a larger one is
	// answered 400 without being read to the end.
	MaxBodyBytes = 64 << 10
	// BasePath is the path of URL, the API's base path.
	BasePath = "/api/v1"
)

// Special statuses: in Config.Script they ask for a fault that is not a plain
// HTTP answer; in Request.Status they say what happened instead of an answer.
const (
	// StatusNone (Request.Status only): no answer was sent, because the
	// client went away or the server was closed first.
	StatusNone = 0
	// StatusReset closes the connection with a TCP reset (SO_LINGER 0) after
	// reading the request: the client sees "connection reset by peer".
	StatusReset = -1
	// StatusHang holds the request without answering until Config.HangFor
	// passes, the client goes away or the server is closed; then the
	// connection is closed.
	StatusHang = -2
	// StatusEmpty504 (Script only) answers 504 with an empty body, as some
	// gateways do; Request.Status then shows 504.
	StatusEmpty504 = -3
)

// ErrNotLoopback is returned by Serve for a listen address that is not on loopback.
var ErrNotLoopback = errors.New("mockapi: listen address is not loopback")

// Config says how the simulated API behaves. The zero value accepts any
// organisation and any non-empty key and answers every well-formed request 200
// at once.
type Config struct {
	Org     string        // organisation accepted in the path, compared after unescaping; "" = any
	APIKey  string        // the key accepted; "" = any non-empty key
	Latency time.Duration // added before every answer; ends early if the client goes away

	// Unknown reports the ICCIDs answered 404 "ICCID not found"; nil = none.
	// It is called concurrently.
	Unknown func(iccid string) bool

	// Fault probabilities per request (0..1). One number is drawn per request
	// from a PRNG seeded with Seed, and the faults take their share of [0,1)
	// in this order, so the sum should not exceed 1. Sequential requests get
	// the same faults on every run.
	Fail500     float64 // 500 JSON error
	Fail503     float64 // 503 JSON error, with RetryAfter
	Fail429     float64 // 429 JSON error, with RetryAfter
	FailHTML502 float64 // 502 with a ~2 KB nginx-like text/html page
	FailReset   float64 // TCP reset after reading the request (StatusReset)
	FailHang    float64 // no answer (StatusHang)

	RetryAfter string        // Retry-After sent with fault and Script 429 and 503 answers; "" = none
	HangFor    time.Duration // how long a hang lasts; 0 = DefaultHangFor

	// RateLimit is a server-side limit in requests per second over all
	// requests that reach the handler (token bucket of RateBurst, 1 if
	// zero); a request above it is answered 429 with Retry-After: 1.
	// 0 = no limit.
	RateLimit float64
	RateBurst int

	// Script gives, per ICCID, the statuses of its successive calls, e.g.
	// {500, 503, 200}; once the list is used up the ICCID gets the normal
	// behaviour. A Script entry wins over everything after the path check
	// (rate limit, faults, key, Unknown). 2xx answers success, 502 the HTML
	// page, StatusReset, StatusHang and StatusEmpty504 their faults, any
	// other code a JSON error with that status.
	Script map[string][]int
	Seed   int64

	ErrorFlagOnSuccess bool   // success answers say "Error": true (the client must count them as failures)
	OmitErrorOnSuccess bool   // success answers have no Error field, as in later versions of the docs
	MessageOverride    string // if set, the Message of every JSON error answer
	// HugeBody makes every 500 answer about 10 MB long (a valid JSON object
	// with a long "Detail" field), and answers 500 instead of success, to test
	// the client's bounded read.
	HugeBody bool

	// MaxRecorded bounds the requests Requests keeps (the first ones);
	// 0 = DefaultMaxRecorded, negative = none. Counts and arrival times are
	// always kept in full.
	MaxRecorded int
}

// Request is what the server saw of one request.
type Request struct {
	Method      string
	Path        string // as sent, escaped
	Org         string // the organisation segment, unescaped; "" when the path did not match
	ICCID       string // "" when the body had none
	APIKey      string
	ContentType string
	Body        string // the first 1 KB
	Status      int    // HTTP status answered, or StatusNone, StatusReset, StatusHang
	At          time.Time
}

// Server is a simulated monoz API. Its methods are safe for concurrent use.
// The caller should call Close when finished.
type Server struct {
	cfg     Config
	script  map[string][]int // a copy of cfg.Script
	hangFor time.Duration
	limiter *rate.Limiter // nil without RateLimit
	faulty  bool          // some fault probability is set
	led     *ledger
	out     bodies
	draws   atomic.Uint64 // fault draws made: the PRNG's position
	bufs    sync.Pool     // *[]byte request body buffers
	errLog  *log.Logger

	closing chan struct{} // closed by Close: ends hangs and latency waits
	served  chan error    // receives http.Server.Serve's result, then is closed
	// handlers counts running handlers; hijacked connections leave the
	// connection count before their handler returns.
	handlers sync.WaitGroup
	conns    sync.WaitGroup

	// mu guards the fields below.
	mu      sync.Mutex
	started bool
	closed  bool
	url     string
	ln      net.Listener
	srv     *http.Server
	states  map[net.Conn]http.ConnState
}

// NewServer starts a server on 127.0.0.1 on a random port. Like
// httptest.NewServer it panics if it cannot listen, so it is meant for tests;
// code that must handle the error uses NewUnstartedServer and Start.
func NewServer(cfg Config) *Server {
	s := NewUnstartedServer(cfg)
	if err := s.Start(); err != nil {
		panic(err)
	}
	return s
}

// NewUnstartedServer returns a server that does not listen until Start.
func NewUnstartedServer(cfg Config) *Server {
	s := &Server{
		cfg:     cfg,
		hangFor: cfg.HangFor,
		closing: make(chan struct{}),
		served:  make(chan error, 1),
		states:  make(map[net.Conn]http.ConnState),
		errLog:  log.New(io.Discard, "", 0),
	}
	if s.hangFor <= 0 {
		s.hangFor = DefaultHangFor
	}
	if len(cfg.Script) > 0 {
		s.script = make(map[string][]int, len(cfg.Script))
		for k, v := range cfg.Script {
			s.script[k] = append([]int(nil), v...)
		}
	}
	if cfg.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(cfg.RateBurst, 1))
	}
	s.faulty = cfg.Fail500+cfg.Fail503+cfg.Fail429+cfg.FailHTML502+cfg.FailReset+cfg.FailHang > 0
	maxRec := cfg.MaxRecorded
	if maxRec == 0 {
		maxRec = DefaultMaxRecorded
	}
	s.led = newLedger(maxRec)
	s.out = newBodies(cfg)
	s.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return s
}

// Start listens on 127.0.0.1 on a random port and serves. It fails if the
// server was already started or closed.
func (s *Server) Start() error {
	if err := s.checkStartable(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("mockapi: listen on 127.0.0.1:0: %w", err)
	}
	return s.serve(ln)
}

func (s *Server) checkStartable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("mockapi: Start on a closed server")
	case s.started:
		return errors.New("mockapi: Start on a started server")
	}
	return nil
}

// serve takes ownership of ln and serves on it in the background.
func (s *Server) serve(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.started {
		ln.Close()
		return errors.New("mockapi: Start on a started or closed server")
	}
	s.started = true
	s.ln = ln
	s.url = "http://" + ln.Addr().String() + BasePath
	s.srv = &http.Server{
		Handler:           s,
		ConnState:         s.track,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          s.errLog,
	}
	go func() {
		s.served <- s.srv.Serve(ln)
		close(s.served)
	}()
	return nil
}

// track follows connection states so that Close can close idle and new
// connections at once and wait for the others, as httptest does.
func (s *Server) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns.Add(1)
		s.states[c] = st
		if s.closed {
			c.Close()
		}
	case http.StateActive:
		if _, ok := s.states[c]; ok {
			s.states[c] = st
		}
	case http.StateIdle:
		if _, ok := s.states[c]; ok {
			s.states[c] = st
		}
		if s.closed {
			c.Close()
		}
	case http.StateHijacked, http.StateClosed:
		if _, ok := s.states[c]; ok {
			delete(s.states, c)
			s.conns.Done()
		}
	}
}

// URL returns the base URL to pass as --base-url, like
// "http://127.0.0.1:PORT/api/v1", without a trailing slash; "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops the server: it ends hangs and latency waits (their connections
// are closed without an answer), closes idle connections and waits for the
// handlers in flight. It may be called more than once, and on an unstarted
// server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wait()
		return
	}
	s.closed = true
	close(s.closing)
	started := s.started
	if started {
		s.ln.Close()
		s.srv.SetKeepAlivesEnabled(false)
		for c, st := range s.states {
			if st == http.StateIdle || st == http.StateNew {
				c.Close()
			}
		}
	}
	s.mu.Unlock()
	if started {
		s.wait()
	}
}

// wait returns once Serve has returned, every connection is closed or
// hijacked and every handler has returned.
func (s *Server) wait() {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return
	}
	for range s.served {
	}
	s.conns.Wait()
	s.handlers.Wait()
}

// Calls returns the number of requests that reached the handler with this
// ICCID in their body, whatever the answer.
func (s *Server) Calls(iccid string) int { return int(s.led.tallyOf(iccid).calls) }

// Successes returns the number of success answers (2xx without "Error": true)
// sent for this ICCID: each one started a reset. It is counted before the
// answer is sent.
func (s *Server) Successes(iccid string) int { return int(s.led.tallyOf(iccid).successes) }

// Total returns the number of requests that reached the handler.
func (s *Server) Total() int { return int(s.led.total.Load()) }

// Ledger returns a copy of the calls per ICCID.
func (s *Server) Ledger() map[string]int { return s.led.calls() }

// StatusCounts returns the number of answers per status, including the
// special statuses StatusNone, StatusReset and StatusHang for requests that
// got no HTTP answer. A request is counted once its answer is decided, just
// before it is sent (a hang when it starts), so a client that has its answer
// always finds it counted.
func (s *Server) StatusCounts() map[int]int { return s.led.statusCounts() }

// MaxInWindow returns the largest number of requests that arrived within any
// window [t, t+w) of length w; 0 if w <= 0.
func (s *Server) MaxInWindow(w time.Duration) int {
	return maxInWindow(s.led.times(), w.Nanoseconds())
}

// Requests returns a copy of the requests seen, in order of arrival, up to
// Config.MaxRecorded of them; a request is added, like StatusCounts, once its
// answer is decided.
func (s *Server) Requests() []Request { return s.led.requests() }

// Serve runs the simulator on addr, which must be a loopback address
// (127.0.0.0/8, ::1 or localhost), until ctx is done; then it closes the
// server and returns nil. It logs the URL at start and, every second with
// new requests, the counts at info level. logger may be nil.
func Serve(ctx context.Context, addr string, cfg Config, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := checkLoopback(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mockapi: listen on %s: %w", addr, err)
	}
	// localhost could resolve elsewhere: check what was actually bound.
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("%w: %s bound %s", ErrNotLoopback, addr, ln.Addr())
	}
	s := NewUnstartedServer(cfg)
	s.errLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	if err := s.serve(ln); err != nil {
		return err
	}
	defer s.Close()
	logger.Info("mock-api listening", "url", s.URL())

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := 0
	for {
		select {
		case <-ctx.Done():
			s.Close()
			logger.Info("mock-api stopped", countAttrs(s, last)...)
			return nil
		case err := <-s.served:
			return fmt.Errorf("mockapi: serving on %s: %w", addr, err)
		case <-tick.C:
			if total := s.Total(); total != last {
				logger.Info("mock-api", countAttrs(s, last)...)
				last = total
			}
		}
	}
}

func countAttrs(s *Server, last int) []any {
	total := s.Total()
	counts := s.StatusCounts()
	status := make([]any, 0, len(counts))
	for st, n := range counts {
		name := strconv.Itoa(st)
		switch st {
		case StatusNone:
			name = "none"
		case StatusReset:
			name = "reset"
		case StatusHang:
			name = "hang"
		}
		status = append(status, slog.Int(name, n))
	}
	return []any{slog.Int("total", total), slog.Int("new", total-last), slog.Group("status", status...)}
}

// checkLoopback refuses an address that would listen beyond this machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("mockapi: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q (use 127.0.0.1:PORT)", ErrNotLoopback, addr)
}
