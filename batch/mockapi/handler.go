package mockapi

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	resetPath    = "/Sim/Reset"
	maxKeptBody  = 1 << 10  // bytes of a body kept in Request.Body
	hugeBodySize = 10 << 20 // bytes of a HugeBody answer
)

// answer is the server's decision on one request.
type answer struct {
	status     int    // HTTP status, or StatusReset, StatusHang
	msg        string // Message of a JSON error answer
	retryAfter string // Retry-After header, if any
	ok         bool   // a success answer ("UpdateSuccess")
	html       bool   // the nginx-like HTML page
	empty      bool   // no body at all
}

// bodies holds the answers prepared once per server, so that the hot path
// only writes them. Header value slices are shared read-only: net/http copies
// the header map before sending it.
type bodies struct {
	ok      []byte
	okLen   []string
	html    []byte
	htmlLen []string
	json    []string
	htmlCT  []string
	zero    []string
	allow   []string
	pad     []byte // HugeBody padding, written repeatedly; nil without HugeBody
}

func newBodies(cfg Config) bodies {
	ok := `{"Error":false,"StatusCode":200,"Message":"UpdateSuccess"}`
	switch {
	case cfg.ErrorFlagOnSuccess:
		ok = `{"Error":true,"StatusCode":200,"Message":"UpdateSuccess"}`
	case cfg.OmitErrorOnSuccess:
		ok = `{"StatusCode":200,"Message":"UpdateSuccess"}`
	}
	html := nginx502Page()
	b := bodies{
		ok:      []byte(ok),
		okLen:   []string{strconv.Itoa(len(ok))},
		html:    html,
		htmlLen: []string{strconv.Itoa(len(html))},
		json:    []string{"application/json; charset=utf-8"},
		htmlCT:  []string{"text/html"},
		zero:    []string{"0"},
		allow:   []string{http.MethodPut},
	}
	if cfg.HugeBody {
		b.pad = []byte(strings.Repeat("x", 64<<10))
	}
	return b
}

// ServeHTTP answers one request as the monoz API would, with the configured
// faults, and records it in the ledger.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	if r.URL.Path == StatsPath { // the benchmark's counters: not an API call, not counted
		s.serveStats(w, r)
		return
	}
	var x exchange
	x.seq, x.req.At = s.led.arrive()
	x.req.Method = r.Method
	x.req.Path = r.URL.EscapedPath()
	x.req.APIKey = first(r.Header["X-Api-Key"])
	x.req.ContentType = first(r.Header["Content-Type"])
	x.a = s.decide(r, &x.req)
	if !s.respond(w, r, &x) {
		// The connection could not be hijacked (not HTTP/1): this is how
		// net/http is told to drop it without an answer.
		panic(http.ErrAbortHandler)
	}
}

// exchange is one request in flight and the answer decided for it.
type exchange struct {
	seq int64
	req Request
	a   answer
}

// commit records the request with the status it gets. It runs before the
// answer is written or the connection dropped, so that a client that has
// seen the answer finds it in the ledger.
func (s *Server) commit(x *exchange, status int) {
	x.req.Status = status
	// A success flagged "Error": true is not counted: the client must treat
	// it as a failure, so it is no evidence of a started reset.
	s.led.finish(x.seq, &x.req, x.a.ok && status == x.a.status && !s.cfg.ErrorFlagOnSuccess)
}

// decide checks the request in the documented order and says how to answer.
func (s *Server) decide(r *http.Request, req *Request) answer {
	if r.Method != http.MethodPut {
		return answer{status: http.StatusMethodNotAllowed, msg: "Method Not Allowed"}
	}
	org, ok := matchPath(req.Path)
	if !ok {
		return answer{status: http.StatusNotFound, msg: "Not Found"}
	}
	req.Org = org

	bp := s.bufs.Get().(*[]byte)
	body, tooBig, readErr := readBody(r, (*bp)[:0])
	if s.led.wantsCopy() {
		req.Body = string(body[:min(len(body), maxKeptBody)])
	}
	var iccid, problem string
	if !tooBig && readErr == nil {
		iccid, problem = parseICCID(body)
	}
	if cap(body) <= 2*MaxBodyBytes {
		*bp = body[:0]
	}
	s.bufs.Put(bp)

	if iccid != "" {
		req.ICCID = iccid
		n := s.led.attribute(iccid)
		if steps := s.script[iccid]; n < len(steps) {
			return s.scripted(steps[n])
		}
	}
	if s.limiter != nil && !s.limiter.Allow() {
		return answer{status: http.StatusTooManyRequests, msg: "Too Many Requests", retryAfter: "1"}
	}
	if s.faulty {
		if a, ok := s.fault(); ok {
			return a
		}
	}
	switch {
	case req.APIKey == "" || (s.cfg.APIKey != "" && req.APIKey != s.cfg.APIKey):
		return answer{status: http.StatusUnauthorized, msg: "Invalid API key"}
	case s.cfg.Org != "" && org != s.cfg.Org:
		return answer{status: http.StatusUnauthorized, msg: "No permission for this organisation"}
	case !isJSON(req.ContentType):
		return answer{status: http.StatusBadRequest, msg: "Content-Type must be application/json"}
	case tooBig:
		return answer{status: http.StatusBadRequest, msg: "Request body too large"}
	case readErr != nil:
		return answer{status: http.StatusBadRequest, msg: "Request body could not be read"}
	case problem != "":
		return answer{status: http.StatusBadRequest, msg: problem}
	case iccid == "":
		return answer{status: http.StatusBadRequest, msg: "ICCID is required"}
	case s.cfg.Unknown != nil && s.cfg.Unknown(iccid):
		return answer{status: http.StatusNotFound, msg: "ICCID not found"}
	case s.cfg.HugeBody:
		return answer{status: http.StatusInternalServerError, msg: "Internal server error"}
	}
	return answer{status: http.StatusOK, ok: true}
}

// scripted turns a Script entry into an answer.
func (s *Server) scripted(code int) answer {
	switch {
	case code == StatusReset || code == StatusHang:
		return answer{status: code}
	case code == StatusEmpty504:
		return answer{status: http.StatusGatewayTimeout, empty: true}
	case code >= 200 && code < 300:
		return answer{status: code, ok: true}
	case code == http.StatusBadGateway:
		return answer{status: code, html: true}
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return answer{status: code, msg: http.StatusText(code), retryAfter: s.cfg.RetryAfter}
	case code >= 100 && code < 600:
		return answer{status: code, msg: http.StatusText(code)}
	}
	return answer{status: http.StatusInternalServerError, msg: "Internal server error"}
}

// fault draws one number and returns the fault it falls on, if any.
func (s *Server) fault() (answer, bool) {
	u := uniform(uint64(s.cfg.Seed), s.draws.Add(1))
	for _, f := range [...]struct {
		p float64
		a answer
	}{
		{s.cfg.Fail500, answer{status: http.StatusInternalServerError, msg: "Internal server error"}},
		{s.cfg.Fail503, answer{status: http.StatusServiceUnavailable, msg: "Service Unavailable", retryAfter: s.cfg.RetryAfter}},
		{s.cfg.Fail429, answer{status: http.StatusTooManyRequests, msg: "Too Many Requests", retryAfter: s.cfg.RetryAfter}},
		{s.cfg.FailHTML502, answer{status: http.StatusBadGateway, html: true}},
		{s.cfg.FailReset, answer{status: StatusReset}},
		{s.cfg.FailHang, answer{status: StatusHang}},
	} {
		if u < f.p {
			return f.a, true
		}
		u -= f.p
	}
	return answer{}, false
}

// uniform returns the n-th number in [0,1) of the splitmix64 sequence for
// seed. Indexing by a counter needs no lock, and sequential requests draw
// the same numbers on every run.
func uniform(seed, n uint64) float64 {
	z := seed + n*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// respond waits the latency, records the request and sends the answer. It
// returns false if the connection had to be dropped but could not be
// hijacked.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	a := x.a
	if a.status == StatusHang {
		s.commit(x, StatusHang)
		return s.hang(w, r)
	}
	if s.cfg.Latency > 0 && !s.pause(r) {
		s.commit(x, StatusNone)
		return drop(w, false)
	}
	s.commit(x, a.status)
	h := w.Header()
	if a.retryAfter != "" {
		h["Retry-After"] = []string{a.retryAfter}
	}
	switch {
	case a.status == StatusReset:
		return drop(w, true)
	case a.ok && a.status == http.StatusOK:
		h["Content-Type"] = s.out.json
		h["Content-Length"] = s.out.okLen
		w.WriteHeader(http.StatusOK)
		w.Write(s.out.ok)
	case a.ok:
		s.writeJSON(w, a.status, s.cfg.ErrorFlagOnSuccess, "UpdateSuccess")
	case a.html:
		h["Content-Type"] = s.out.htmlCT
		h["Content-Length"] = s.out.htmlLen
		w.WriteHeader(a.status)
		w.Write(s.out.html)
	case a.empty:
		h["Content-Length"] = s.out.zero
		w.WriteHeader(a.status)
	case a.status == http.StatusInternalServerError && s.out.pad != nil:
		s.writeHuge(w, s.message(a.msg))
	default:
		if a.status == http.StatusMethodNotAllowed {
			h["Allow"] = s.out.allow
		}
		s.writeJSON(w, a.status, true, s.message(a.msg))
	}
	return true
}

func (s *Server) message(msg string) string {
	if s.cfg.MessageOverride != "" {
		return s.cfg.MessageOverride
	}
	return msg
}

// writeJSON sends {"Error":..,"StatusCode":..,"Message":..}.
func (s *Server) writeJSON(w http.ResponseWriter, status int, isErr bool, msg string) {
	b := make([]byte, 0, 64+len(msg))
	b = append(b, `{"Error":`...)
	b = strconv.AppendBool(b, isErr)
	b = append(b, `,"StatusCode":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"Message":`...)
	b = appendJSONString(b, msg)
	b = append(b, '}')
	h := w.Header()
	h["Content-Type"] = s.out.json
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
}

// writeHuge sends a 500 JSON answer of about 10 MB, stopping at the first
// write error (the client gave up reading).
func (s *Server) writeHuge(w http.ResponseWriter, msg string) {
	head := appendJSONString([]byte(`{"Error":true,"StatusCode":500,"Message":`), msg)
	head = append(head, `,"Detail":"`...)
	const tail = `"}`
	h := w.Header()
	h["Content-Type"] = s.out.json
	h["Content-Length"] = []string{strconv.Itoa(len(head) + hugeBodySize + len(tail))}
	w.WriteHeader(http.StatusInternalServerError)
	if _, err := w.Write(head); err != nil {
		return
	}
	for left := hugeBodySize; left > 0; {
		n := min(left, len(s.out.pad))
		if _, err := w.Write(s.out.pad[:n]); err != nil {
			return
		}
		left -= n
	}
	io.WriteString(w, tail)
}

// pause waits Config.Latency. It returns false if the client went away or
// the server is closing first.
func (s *Server) pause(r *http.Request) bool {
	t := time.NewTimer(s.cfg.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.closing:
	}
	return false
}

// hang holds the request until HangFor passes, the client goes away or the
// server closes, then drops the connection. It returns drop's result.
func (s *Server) hang(w http.ResponseWriter, r *http.Request) bool {
	t := time.NewTimer(s.hangFor)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-s.closing:
	}
	return drop(w, false)
}

// drop closes the connection without an answer: with a TCP reset if rst,
// else with a normal close. It returns false if the connection cannot be
// hijacked.
func drop(w http.ResponseWriter, rst bool) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	if tcp, ok := conn.(*net.TCPConn); ok && rst {
		// Linger 0 makes Close send RST instead of FIN: "connection reset by peer".
		tcp.SetLinger(0)
	}
	conn.Close()
	return true
}

// matchPath returns the unescaped organisation of "/api/v1/{org}/Sim/Reset".
// It works on the escaped path so that an org containing an escaped slash
// stays one segment.
func matchPath(escaped string) (string, bool) {
	rest, ok := strings.CutPrefix(escaped, BasePath+"/")
	if !ok {
		return "", false
	}
	seg, ok := strings.CutSuffix(rest, resetPath)
	if !ok || seg == "" || strings.IndexByte(seg, '/') >= 0 {
		return "", false
	}
	org, err := url.PathUnescape(seg)
	if err != nil {
		return "", false
	}
	return org, true
}

// readBody reads at most MaxBodyBytes+1 bytes into buf. tooBig is set,
// without reading further, once the body is known to be over MaxBodyBytes.
func readBody(r *http.Request, buf []byte) (body []byte, tooBig bool, err error) {
	if r.ContentLength > MaxBodyBytes {
		return buf, true, nil
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case len(buf) > MaxBodyBytes:
			return buf, true, nil
		case err == io.EOF:
			return buf, false, nil
		case err != nil:
			return buf, false, err
		}
	}
}

// parseICCID returns the body's ICCID string; "" if it has none. problem is
// the Message of the 400 answer for a body that cannot be used.
func parseICCID(body []byte) (iccid, problem string) {
	if id, ok := quickICCID(body); ok {
		return id, ""
	}
	var v struct{ ICCID *string }
	if err := json.Unmarshal(body, &v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if typeErr.Field == "ICCID" {
				return "", "ICCID must be a string"
			}
			return "", "Request body is not a JSON object"
		}
		return "", "Request body is not valid JSON"
	}
	if v.ICCID == nil {
		return "", ""
	}
	return *v.ICCID, ""
}

// quickICCID parses the usual body, {"ICCID":"..."} with optional white
// space and a value without escapes, with one allocation instead of
// encoding/json's seven. It reports false for anything else, which
// parseICCID then hands to encoding/json.
func quickICCID(b []byte) (string, bool) {
	i := 0
	skip := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	expect := func(lit string) bool {
		skip()
		if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
			return false
		}
		i += len(lit)
		return true
	}
	if !expect("{") || !expect(`"ICCID"`) || !expect(":") || !expect(`"`) {
		return "", false
	}
	start := i
	for i < len(b) && b[i] != '"' {
		if b[i] == '\\' || b[i] < 0x20 || b[i] >= 0x80 {
			return "", false
		}
		i++
	}
	if i == len(b) {
		return "", false
	}
	value := b[start:i]
	i++
	if !expect("}") {
		return "", false
	}
	if skip(); i != len(b) {
		return "", false
	}
	return string(value), true
}

// isJSON reports whether a Content-Type value is application/json, with or
// without parameters.
func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// nginx502Page returns a ~2 KB error page like the one nginx serves when its
// upstream is down, padded as nginx pads its pages.
func nginx502Page() []byte {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html>
<head>
<title>502 Bad Gateway</title>
<style>
    body { width: 35em; margin: 0 auto; font-family: Tahoma, Verdana, Arial, sans-serif; }
    h1 { font-weight: normal; }
    .footer { color: #888; font-size: small; }
</style>
</head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<p>An error occurred while the gateway was waiting for the upstream server.
Sorry, the page you are looking for is currently unavailable.<br/>
Please try again later.</p>
<p>If you are the system administrator of this resource then you should check
the error log for details.</p>
<hr><center class="footer">nginx</center>
</body>
</html>
`)
	for b.Len() < 2000 {
		b.WriteString("<!-- a padding to disable MSIE and Chrome friendly error page -->\n")
	}
	return []byte(b.String())
}
