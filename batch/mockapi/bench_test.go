package mockapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// BenchmarkHandler measures requests per second over loopback with 64
// concurrent clients, against the simulator and, for comparison, a bare
// net/http handler that writes the same answer: the gap is the simulator's
// own cost.
func BenchmarkHandler(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte(okBody))
	})
	b.Run("mockapi", func(b *testing.B) {
		s := NewServer(Config{Org: testOrg, APIKey: testKey})
		defer s.Close()
		benchmarkLoopback(b, s.URL()+"/"+testOrg+"/Sim/Reset")
	})
	b.Run("bare", func(b *testing.B) {
		s := httptest.NewServer(bare)
		defer s.Close()
		benchmarkLoopback(b, s.URL+resetPut)
	})
}

func benchmarkLoopback(b *testing.B, url string) {
	const clients = 64
	bodies := make([][]byte, 1024)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"ICCID":"89811000000%08d"}`, i)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: clients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(bodies[i%len(bodies)]))
			req.Header["Content-Type"] = []string{jsonCT}
			req.Header["X-Api-Key"] = []string{testKey}
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkServeHTTP measures the handler alone, without the network: its
// time and allocations per request are what the simulator adds.
func BenchmarkServeHTTP(b *testing.B) {
	s := NewUnstartedServer(Config{Org: testOrg, APIKey: testKey})
	body := bytes.NewReader(nil)
	req := httptest.NewRequest(http.MethodPut, resetPut, nil)
	req.Header.Set("Content-Type", jsonCT)
	req.Header.Set("X-API-Key", testKey)
	w := &plainWriter{h: http.Header{}}
	raw := []byte(iccidBody)
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(raw)
		req.Body = io.NopCloser(body)
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}
