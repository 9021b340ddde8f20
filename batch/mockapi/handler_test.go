package mockapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	testOrg   = "acme"
	testKey   = "secret-key"
	iccidOK   = "8981100000000000000"
	iccid404  = "8981100000000000404"
	okBody    = `{"Error":false,"StatusCode":200,"Message":"UpdateSuccess"}`
	jsonCT    = "application/json"
	answerCT  = "application/json; charset=utf-8"
	resetPut  = "/api/v1/acme/Sim/Reset"
	iccidBody = `{"ICCID":"8981100000000000000"}`
)

// call is one request to send; zero fields take the documented good values.
type call struct {
	method string            // "" = PUT
	path   string            // below the host; "" = resetPut
	key    *string           // nil = testKey
	ct     *string           // nil = application/json
	body   *string           // nil = iccidBody
	header map[string]string // extra headers
	ctx    context.Context
}

// reply is what the client got.
type reply struct {
	status int
	header http.Header
	body   string
	err    error
}

func ptr(s string) *string { return &s }

func newClient(t testing.TB) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64} // no Proxy: loopback only
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func hostOf(s *Server) string { return strings.TrimSuffix(s.URL(), BasePath) }

func send(t testing.TB, c *http.Client, s *Server, cl call) reply {
	t.Helper()
	return sendTo(t, c, hostOf(s), cl)
}

// sendTo sends cl to the server at host ("http://127.0.0.1:PORT").
func sendTo(t testing.TB, c *http.Client, host string, cl call) reply {
	t.Helper()
	method, path, key, ct, body := http.MethodPut, resetPut, testKey, jsonCT, iccidBody
	if cl.method != "" {
		method = cl.method
	}
	if cl.path != "" {
		path = cl.path
	}
	if cl.key != nil {
		key = *cl.key
	}
	if cl.ct != nil {
		ct = *cl.ct
	}
	if cl.body != nil {
		body = *cl.body
	}
	ctx := cl.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	req, err := http.NewRequestWithContext(ctx, method, host+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range cl.header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := NewServer(cfg)
	t.Cleanup(s.Close)
	return s
}

func errBody(status int, msg string) string {
	b, _ := json.Marshal(struct {
		Error      bool
		StatusCode int
		Message    string
	}{true, status, msg})
	return string(b)
}

func TestContract(t *testing.T) {
	cfg := Config{Org: testOrg, APIKey: testKey, Unknown: func(iccid string) bool { return iccid == iccid404 }}
	tests := []struct {
		name       string
		call       call
		wantStatus int
		wantBody   string
		wantHeader map[string]string
	}{
		{"success", call{}, 200, okBody, map[string]string{"Content-Type": answerCT}},
		{"json with charset", call{ct: ptr("application/json; charset=utf-8")}, 200, okBody, nil},
		{"content type case", call{ct: ptr("Application/JSON")}, 200, okBody, nil},
		{"extra field", call{body: ptr(`{"ICCID":"8981100000000000000","Note":1}`)}, 200, okBody, nil},
		{"GET", call{method: http.MethodGet}, 405, errBody(405, "Method Not Allowed"), map[string]string{"Allow": "PUT"}},
		{"POST", call{method: http.MethodPost}, 405, errBody(405, "Method Not Allowed"), map[string]string{"Allow": "PUT"}},
		{"DELETE", call{method: http.MethodDelete}, 405, errBody(405, "Method Not Allowed"), nil},
		{"wrong key", call{key: ptr("other")}, 401, errBody(401, "Invalid API key"), map[string]string{"Content-Type": answerCT}},
		{"missing key", call{key: ptr("")}, 401, errBody(401, "Invalid API key"), nil},
		{"other organisation", call{path: "/api/v1/other/Sim/Reset"}, 401, errBody(401, "No permission for this organisation"), nil},
		{"missing content type", call{ct: ptr("")}, 400, errBody(400, "Content-Type must be application/json"), nil},
		{"text content type", call{ct: ptr("text/plain")}, 400, errBody(400, "Content-Type must be application/json"), nil},
		{"form content type", call{ct: ptr("application/x-www-form-urlencoded")}, 400, errBody(400, "Content-Type must be application/json"), nil},
		{"not JSON", call{body: ptr(`ICCID=8981100000000000000`)}, 400, errBody(400, "Request body is not valid JSON"), nil},
		{"truncated JSON", call{body: ptr(`{"ICCID":"89811`)}, 400, errBody(400, "Request body is not valid JSON"), nil},
		{"empty body", call{body: ptr(``)}, 400, errBody(400, "Request body is not valid JSON"), nil},
		{"no ICCID field", call{body: ptr(`{"IMSI":"440100000000000"}`)}, 400, errBody(400, "ICCID is required"), nil},
		{"null ICCID", call{body: ptr(`{"ICCID":null}`)}, 400, errBody(400, "ICCID is required"), nil},
		{"empty ICCID", call{body: ptr(`{"ICCID":""}`)}, 400, errBody(400, "ICCID is required"), nil},
		{"numeric ICCID", call{body: ptr(`{"ICCID":8981100000000000000}`)}, 400, errBody(400, "ICCID must be a string"), nil},
		{"oversized body", call{body: ptr(`{"ICCID":"` + strings.Repeat("8", MaxBodyBytes) + `"}`)}, 400, errBody(400, "Request body too large"), nil},
		{"unknown ICCID", call{body: ptr(`{"ICCID":"` + iccid404 + `"}`)}, 404, errBody(404, "ICCID not found"), nil},
		{"trailing slash", call{path: resetPut + "/"}, 404, errBody(404, "Not Found"), nil},
		{"other version", call{path: "/api/v2/acme/Sim/Reset"}, 404, errBody(404, "Not Found"), nil},
		{"lower case", call{path: "/api/v1/acme/sim/reset"}, 404, errBody(404, "Not Found"), nil},
		{"empty organisation", call{path: "/api/v1//Sim/Reset"}, 404, errBody(404, "Not Found"), nil},
		{"two segments", call{path: "/api/v1/ac/me/Sim/Reset"}, 404, errBody(404, "Not Found"), nil},
		{"root", call{path: "/"}, 404, errBody(404, "Not Found"), nil},
	}
	s := startServer(t, cfg)
	c := newClient(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := send(t, c, s, tt.call)
			if got.err != nil {
				t.Fatalf("request failed: %v", got.err)
			}
			if got.status != tt.wantStatus || got.body != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", got.status, got.body, tt.wantStatus, tt.wantBody)
			}
			for k, v := range tt.wantHeader {
				if g := got.header.Get(k); g != v {
					t.Errorf("header %s = %q, want %q", k, g, v)
				}
			}
		})
	}
	if got, want := s.Total(), len(tests); got != want {
		t.Errorf("Total() = %d, want %d", got, want)
	}
}

func TestZeroConfigAcceptsAnyOrgAndKey(t *testing.T) {
	s := startServer(t, Config{})
	c := newClient(t)
	for _, cl := range []call{
		{path: "/api/v1/x/Sim/Reset", key: ptr("k1")},
		{path: "/api/v1/mti/Sim/Reset", key: ptr("another")},
	} {
		if got := send(t, c, s, cl); got.status != 200 || got.body != okBody {
			t.Errorf("%s: got %d %s, want 200", cl.path, got.status, got.body)
		}
	}
	if got := send(t, c, s, call{key: ptr("")}); got.status != 401 {
		t.Errorf("no key: got %d, want 401", got.status)
	}
}

func TestEscapedOrganisation(t *testing.T) {
	tests := []struct {
		org, path string
	}{
		{"a/../b", "/api/v1/a%2F..%2Fb/Sim/Reset"},
		{"a/../b", "/api/v1/a%2f..%2fb/Sim/Reset"},
		{"my org", "/api/v1/my%20org/Sim/Reset"},
		{"100%", "/api/v1/100%25/Sim/Reset"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s := startServer(t, Config{Org: tt.org})
			got := send(t, newClient(t), s, call{path: tt.path})
			if got.status != 200 {
				t.Fatalf("got %d %s %v, want 200", got.status, got.body, got.err)
			}
			reqs := s.Requests()
			if len(reqs) != 1 {
				t.Fatalf("Requests() has %d entries, want 1", len(reqs))
			}
			if reqs[0].Org != tt.org || reqs[0].Path != tt.path {
				t.Errorf("recorded Org %q Path %q, want %q %q", reqs[0].Org, reqs[0].Path, tt.org, tt.path)
			}
		})
	}
	// The unescaped form is a different path: "a/../b" is three segments.
	s := startServer(t, Config{Org: "a/../b"})
	if got := send(t, newClient(t), s, call{path: "/api/v1/a/../b/Sim/Reset"}); got.status != 404 {
		t.Errorf("unescaped slashes: got %d, want 404", got.status)
	}
}

func TestScript(t *testing.T) {
	const a, b = "8900000000000000001", "8900000000000000002"
	s := startServer(t, Config{
		RetryAfter: "2",
		HangFor:    20 * time.Millisecond,
		Script: map[string][]int{
			a: {500, 503, 200},
			b: {StatusReset, 502, StatusEmpty504, 429, StatusHang, 401, 202},
		},
	})
	c := newClient(t)
	body := func(iccid string) call { return call{body: ptr(`{"ICCID":"` + iccid + `"}`)} }
	type want struct {
		status     int // 0: a transport error
		body       string
		ct         string
		retryAfter string
	}
	steps := []struct {
		iccid string
		want  want
	}{
		{a, want{500, errBody(500, "Internal Server Error"), answerCT, ""}},
		{a, want{503, errBody(503, "Service Unavailable"), answerCT, "2"}},
		{a, want{200, okBody, answerCT, ""}},
		{a, want{200, okBody, answerCT, ""}}, // script used up: normal
		{b, want{}},                          // reset
		{b, want{502, string(nginx502Page()), "text/html", ""}},
		{b, want{504, "", "", ""}},
		{b, want{429, errBody(429, "Too Many Requests"), answerCT, "2"}},
		{b, want{}}, // hang, then closed
		{b, want{401, errBody(401, "Unauthorized"), answerCT, ""}},
		{b, want{202, `{"Error":false,"StatusCode":202,"Message":"UpdateSuccess"}`, answerCT, ""}},
		{b, want{200, okBody, answerCT, ""}},
	}
	for i, st := range steps {
		got := send(t, c, s, body(st.iccid))
		if st.want.status == 0 {
			if got.err == nil {
				t.Errorf("step %d: got %d, want a transport error", i, got.status)
			}
			continue
		}
		if got.err != nil {
			t.Fatalf("step %d: %v", i, got.err)
		}
		if got.status != st.want.status || got.body != st.want.body {
			t.Errorf("step %d: got %d %.80s, want %d %.80s", i, got.status, got.body, st.want.status, st.want.body)
		}
		if ct := got.header.Get("Content-Type"); ct != st.want.ct {
			t.Errorf("step %d: Content-Type %q, want %q", i, ct, st.want.ct)
		}
		if ra := got.header.Get("Retry-After"); ra != st.want.retryAfter {
			t.Errorf("step %d: Retry-After %q, want %q", i, ra, st.want.retryAfter)
		}
	}
	for _, tt := range []struct {
		iccid            string
		calls, successes int
	}{{a, 4, 2}, {b, 8, 2}} {
		if got := s.Calls(tt.iccid); got != tt.calls {
			t.Errorf("Calls(%s) = %d, want %d", tt.iccid, got, tt.calls)
		}
		if got := s.Successes(tt.iccid); got != tt.successes {
			t.Errorf("Successes(%s) = %d, want %d", tt.iccid, got, tt.successes)
		}
	}
	var statuses []int
	for _, r := range s.Requests() {
		statuses = append(statuses, r.Status)
	}
	wantStatuses := []int{500, 503, 200, 200, StatusReset, 502, 504, 429, StatusHang, 401, 202, 200}
	if !slices.Equal(statuses, wantStatuses) {
		t.Errorf("recorded statuses %v, want %v", statuses, wantStatuses)
	}
}

func TestResetIsConnectionResetByPeer(t *testing.T) {
	s := startServer(t, Config{FailReset: 1})
	got := send(t, newClient(t), s, call{})
	if !errors.Is(got.err, syscall.ECONNRESET) {
		t.Errorf("got %d %v, want connection reset by peer", got.status, got.err)
	}
}

func TestHTML502Page(t *testing.T) {
	page := nginx502Page()
	if n := len(page); n < 1800 || n > 2200 {
		t.Errorf("page is %d bytes, want about 2 KB", n)
	}
	if !strings.Contains(string(page), "<title>502 Bad Gateway</title>") {
		t.Errorf("page has no 502 title")
	}
}

func TestFaultProbabilities(t *testing.T) {
	const n = 2000
	cfg := Config{
		Fail500: 0.10, Fail503: 0.10, Fail429: 0.10,
		FailHTML502: 0.05, FailReset: 0.05, FailHang: 0.05,
		HangFor: time.Millisecond, RetryAfter: "1", Seed: 42,
	}
	run := func(cfg Config) map[int]int {
		s := startServer(t, cfg)
		c := newClient(t)
		errs := 0
		for range n {
			got := send(t, c, s, call{})
			if got.err != nil {
				errs++
				continue
			}
			if (got.status == 429 || got.status == 503) && got.header.Get("Retry-After") != "1" {
				t.Errorf("%d without Retry-After", got.status)
			}
		}
		s.Close()
		counts := s.StatusCounts()
		if got, want := errs, counts[StatusReset]+counts[StatusHang]; got != want {
			t.Errorf("client saw %d transport errors, server %d resets and hangs", got, want)
		}
		return counts
	}
	counts := run(cfg)
	for _, tt := range []struct {
		status int
		p      float64
	}{
		{500, 0.10}, {503, 0.10}, {429, 0.10}, {502, 0.05},
		{StatusReset, 0.05}, {StatusHang, 0.05}, {200, 0.55},
	} {
		// Four standard deviations: a fixed seed, so this never flakes,
		// but it still catches a wrong share.
		want := tt.p * n
		tol := 4 * math.Sqrt(n*tt.p*(1-tt.p))
		if got := float64(counts[tt.status]); got < want-tol || got > want+tol {
			t.Errorf("status %d: %v of %d, want %v ± %.0f", tt.status, got, n, want, tol)
		}
	}
	if again := run(cfg); !maps.Equal(again, counts) {
		t.Errorf("same seed gave %v then %v", counts, again)
	}
	cfg.Seed = 43
	if other := run(cfg); maps.Equal(other, counts) {
		t.Errorf("seeds 42 and 43 gave the same counts %v", counts)
	}
}

func TestRateLimit(t *testing.T) {
	s := startServer(t, Config{RateLimit: 0.5, RateBurst: 5})
	c := newClient(t)
	var got []int
	for range 20 {
		r := send(t, c, s, call{})
		got = append(got, r.status)
		if r.status == 429 && r.header.Get("Retry-After") != "1" {
			t.Errorf("429 with Retry-After %q, want 1", r.header.Get("Retry-After"))
		}
	}
	want := []int{200, 200, 200, 200, 200}
	for range 15 {
		want = append(want, 429)
	}
	if !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if got := s.Calls(iccidOK); got != 20 {
		t.Errorf("Calls = %d, want 20 (a limited request still reached the server)", got)
	}
}

func TestAnswerOptions(t *testing.T) {
	const formula = `=HYPERLINK("http://evil.example/?x","click")`
	tests := []struct {
		name          string
		cfg           Config
		call          call
		wantStatus    int
		wantBody      string
		wantSuccesses int
	}{
		{"error flag on success", Config{ErrorFlagOnSuccess: true}, call{}, 200,
			`{"Error":true,"StatusCode":200,"Message":"UpdateSuccess"}`, 0},
		{"error field omitted", Config{OmitErrorOnSuccess: true}, call{}, 200,
			`{"StatusCode":200,"Message":"UpdateSuccess"}`, 1},
		{"message override", Config{MessageOverride: formula, Unknown: func(string) bool { return true }}, call{}, 404,
			errBody(404, formula), 0},
		{"message override with control characters", Config{MessageOverride: "a\tb\r\n\"c\\", Fail500: 1}, call{}, 500,
			errBody(500, "a\tb\r\n\"c\\"), 0},
		{"override leaves success alone", Config{MessageOverride: formula}, call{}, 200, okBody, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.cfg)
			got := send(t, newClient(t), s, tt.call)
			if got.status != tt.wantStatus || got.body != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", got.status, got.body, tt.wantStatus, tt.wantBody)
			}
			if got := s.Successes(iccidOK); got != tt.wantSuccesses {
				t.Errorf("Successes = %d, want %d", got, tt.wantSuccesses)
			}
		})
	}
}

func TestHugeBody(t *testing.T) {
	s := startServer(t, Config{HugeBody: true})
	c := newClient(t)
	req, _ := http.NewRequest(http.MethodPut, s.URL()+"/acme/Sim/Reset", strings.NewReader(iccidBody))
	req.Header.Set("Content-Type", jsonCT)
	req.Header.Set("X-API-Key", testKey)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Error      bool
		StatusCode int
		Message    string
		Detail     string
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 500 || !v.Error || v.StatusCode != 500 || v.Message != "Internal server error" || len(v.Detail) != hugeBodySize {
		t.Errorf("got %d %v %d %q and %d bytes of detail", resp.StatusCode, v.Error, v.StatusCode, v.Message, len(v.Detail))
	}
	if resp.ContentLength <= hugeBodySize {
		t.Errorf("Content-Length %d, want over %d", resp.ContentLength, hugeBodySize)
	}

	// A client that reads a bounded prefix and hangs up must not hold the server.
	resp, err = c.Do(req.Clone(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, resp.Body, 4096)
	resp.Body.Close()
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the client stopped reading")
	}
	if got := s.Successes(iccidOK); got != 0 {
		t.Errorf("Successes = %d, want 0", got)
	}
}

func TestOversizedBodyIsNotReadToTheEnd(t *testing.T) {
	s := startServer(t, Config{})
	src := &countingReader{left: 10 << 20}
	req, _ := http.NewRequest(http.MethodPut, s.URL()+"/acme/Sim/Reset", src)
	req.ContentLength = -1 // chunked: the server must stop reading by itself
	req.Header.Set("Content-Type", jsonCT)
	req.Header.Set("X-API-Key", testKey)
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(b) != errBody(400, "Request body too large") {
		t.Errorf("got %d %s, want 400 too large", resp.StatusCode, b)
	}
	if got := src.read(); got >= 10<<20 {
		t.Errorf("client sent all %d bytes", got)
	}
	if reqs := s.Requests(); len(reqs) != 1 || len(reqs[0].Body) != maxKeptBody {
		t.Errorf("kept %d requests, want 1 with a %d-byte body", len(reqs), maxKeptBody)
	}
}

func TestLatency(t *testing.T) {
	const latency = 30 * time.Millisecond
	s := startServer(t, Config{Latency: latency})
	c := newClient(t)
	start := time.Now()
	if got := send(t, c, s, call{}); got.status != 200 {
		t.Fatalf("got %d %v, want 200", got.status, got.err)
	}
	if d := time.Since(start); d < latency {
		t.Errorf("answered after %v, want at least %v", d, latency)
	}
}

func TestLatencyEndsWhenClientGoesAway(t *testing.T) {
	s := startServer(t, Config{Latency: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if got := send(t, newClient(t), s, call{ctx: ctx}); !errors.Is(got.err, context.DeadlineExceeded) {
		t.Fatalf("got %d %v, want the client's deadline", got.status, got.err)
	}
	waitFor(t, func() bool { return s.StatusCounts()[StatusNone] == 1 })
	if reqs := s.Requests(); len(reqs) != 1 || reqs[0].Status != StatusNone {
		t.Errorf("recorded %+v, want one request with StatusNone", reqs)
	}
}

func TestRequestsRecordsWhatWasSent(t *testing.T) {
	s := startServer(t, Config{MaxRecorded: 2})
	c := newClient(t)
	before := time.Now()
	send(t, c, s, call{header: map[string]string{"Content-Type": "application/json; charset=utf-8"}})
	send(t, c, s, call{method: http.MethodGet, key: ptr("")})
	send(t, c, s, call{})
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("kept %d requests, want MaxRecorded = 2", len(reqs))
	}
	want := Request{
		Method: "PUT", Path: resetPut, Org: testOrg, ICCID: iccidOK, APIKey: testKey,
		ContentType: "application/json; charset=utf-8", Body: iccidBody, Status: 200,
	}
	got := reqs[0]
	if got.At.Before(before) || got.At.After(time.Now()) {
		t.Errorf("At = %v, want during the test", got.At)
	}
	got.At = time.Time{}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if g := reqs[1]; g.Method != "GET" || g.Status != 405 || g.ICCID != "" || g.Body != "" {
		t.Errorf("second request recorded as %+v", g)
	}
	reqs[0].ICCID = "changed"
	if s.Requests()[0].ICCID != iccidOK {
		t.Error("Requests does not return a copy")
	}
	if got := s.Total(); got != 3 {
		t.Errorf("Total = %d, want 3", got)
	}
}

func TestHandlerWithoutHijackPanicsToAbort(t *testing.T) {
	s := NewUnstartedServer(Config{FailReset: 1})
	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", r)
		}
		if got := s.StatusCounts()[StatusReset]; got != 1 {
			t.Errorf("resets counted %d, want 1", got)
		}
	}()
	req, _ := http.NewRequest(http.MethodPut, "http://x"+resetPut, strings.NewReader(iccidBody))
	s.ServeHTTP(&plainWriter{h: http.Header{}}, req)
}

func TestMatchPath(t *testing.T) {
	tests := []struct {
		path, org string
		ok        bool
	}{
		{"/api/v1/mti/Sim/Reset", "mti", true},
		{"/api/v1/a%2F..%2Fb/Sim/Reset", "a/../b", true},
		{"/api/v1/%E6%9D%B1%E4%BA%AC/Sim/Reset", "東京", true},
		{"/api/v1/Sim/Reset", "", false},
		{"/api/v1/mti/Sim/Reset/x", "", false},
		{"/api/v1/mti/Sim/ResetX", "", false},
		{"api/v1/mti/Sim/Reset", "", false},
		{"/api/v1/%/Sim/Reset", "", false},
	}
	for _, tt := range tests {
		org, ok := matchPath(tt.path)
		if org != tt.org || ok != tt.ok {
			t.Errorf("matchPath(%q) = %q, %v; want %q, %v", tt.path, org, ok, tt.org, tt.ok)
		}
	}
}

func TestUniformIsInRange(t *testing.T) {
	sum := 0.0
	for n := range uint64(100000) {
		u := uniform(7, n)
		if u < 0 || u >= 1 {
			t.Fatalf("uniform(7, %d) = %v", n, u)
		}
		sum += u
	}
	if mean := sum / 100000; mean < 0.49 || mean > 0.51 {
		t.Errorf("mean %v, want about 0.5", mean)
	}
}

// countingReader yields '8' bytes and counts what was taken.
type countingReader struct {
	n    atomic.Int64
	left int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := int64(min(len(p), 32<<10))
	n = min(n, r.left)
	for i := range p[:n] {
		p[i] = '8'
	}
	r.left -= n
	r.n.Add(n)
	return int(n), nil
}

func (r *countingReader) read() int64 { return r.n.Load() }

// plainWriter is a ResponseWriter that cannot be hijacked.
type plainWriter struct{ h http.Header }

func (w *plainWriter) Header() http.Header         { return w.h }
func (w *plainWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *plainWriter) WriteHeader(int)             {}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestParseICCID(t *testing.T) {
	tests := []struct {
		body, iccid, problem string
		quick                bool // taken by the fast path
	}{
		{`{"ICCID":"8981100000000000000"}`, "8981100000000000000", "", true},
		{" {\n\t\"ICCID\" : \"8981100000000000000\" }\r\n", "8981100000000000000", "", true},
		{`{"ICCID":""}`, "", "", true},
		{`{"ICCID":"89\u0038"}`, "898", "", false},
		{`{"ICCID":"89東"}`, "89東", "", false},
		{`{"iccid":"8981"}`, "8981", "", false}, // encoding/json matches names case-insensitively
		{`{"ICCID":"8981","x":1}`, "8981", "", false},
		{`{"ICCID":"8981"} x`, "", "Request body is not valid JSON", false},
		{`{"ICCID":"8981"`, "", "Request body is not valid JSON", false},
		{`{"ICCID":"8981}`, "", "Request body is not valid JSON", false},
		{`{"ICCID":8981}`, "", "ICCID must be a string", false},
		{`{"ICCID":null}`, "", "", false},
		{`{}`, "", "", false},
		{`[]`, "", "Request body is not a JSON object", false},
		{`"8981"`, "", "Request body is not a JSON object", false},
		{``, "", "Request body is not valid JSON", false},
	}
	for _, tt := range tests {
		iccid, problem := parseICCID([]byte(tt.body))
		if iccid != tt.iccid || problem != tt.problem {
			t.Errorf("parseICCID(%q) = %q, %q; want %q, %q", tt.body, iccid, problem, tt.iccid, tt.problem)
		}
		if _, quick := quickICCID([]byte(tt.body)); quick != tt.quick {
			t.Errorf("quickICCID(%q) took it: %v, want %v", tt.body, quick, tt.quick)
		}
	}
}
