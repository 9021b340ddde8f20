package batch

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/simreset/simreset/batch/mockapi"
)

// benchRecords yields n distinct SIMs, made before the timer starts so that the
// benchmark measures the pool, not the making of records.
type benchRecords struct {
	recs []Record
	next int // only the pool's feeder calls Next
}

func newBenchRecords(n int) *benchRecords {
	recs := make([]Record, n)
	for i := range recs {
		iccid := fmt.Sprintf("898824700%011d", i)
		recs[i] = Record{Row: i + 2, Line: i + 2, Raw: iccid, ICCID: iccid}
	}
	return &benchRecords{recs: recs}
}

func (s *benchRecords) Next() (Record, error) {
	if s.next == len(s.recs) {
		return Record{}, io.EOF
	}
	s.next++
	return s.recs[s.next-1], nil
}

// benchmarkPool resets b.N SIMs through one Pool against srv over loopback and
// reports resets per second; allocs/op are per SIM. It fails unless every SIM
// was reset with one attempt.
func benchmarkPool(b *testing.B, srv *mockapi.Server, cfg Config) float64 {
	b.Helper()
	cfg.BaseURL, cfg.Org, cfg.APIKey = srv.URL(), "bench", "bench-key"
	pool, err := NewPool(cfg)
	if err != nil {
		b.Fatal(err)
	}
	src := newBenchRecords(b.N)
	reset, attempts := 0, 0
	emit := func(r Result) error {
		if r.Outcome == OutcomeReset {
			reset++
		}
		attempts += r.Attempts
		return nil
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := pool.Run(ctx, ctx, src, emit); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if reset != b.N || attempts != b.N {
		b.Fatalf("%d SIMs: %d reset in %d attempts, want all in one attempt each", b.N, reset, attempts)
	}
	perSecond := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(perSecond, "resets/s")
	return perSecond
}

// BenchmarkPool measures the pool and client against the simulator over
// loopback, in the settings of SPEC.md section 8 (bench/run.sh measures the
// whole binary, reader and result file included):
//
//	go test -run '^$' -bench Pool -benchtime 20000x ./batch/    # throughput
//	go test -run '^$' -bench 'Pool/latency' -benchtime 4000x ./batch/
//	go test -run '^$' -bench 'Pool/rate' -benchtime 4000x ./batch/  # 20 s
func BenchmarkPool(b *testing.B) {
	b.Run("loopback/workers=64", func(b *testing.B) {
		srv := mockapi.NewServer(mockapi.Config{MaxRecorded: -1})
		defer srv.Close()
		benchmarkPool(b, srv, Config{Workers: 64})
	})
	b.Run("latency=50ms/workers=100", func(b *testing.B) {
		const workers, latency = 100, 50 * time.Millisecond
		srv := mockapi.NewServer(mockapi.Config{MaxRecorded: -1, Latency: latency})
		defer srv.Close()
		perSecond := benchmarkPool(b, srv, Config{Workers: workers})
		b.ReportMetric(perSecond/(workers/latency.Seconds()), "of-ideal")
	})
	b.Run("rate=200/burst=1/workers=16", func(b *testing.B) {
		const rate = 200
		srv := mockapi.NewServer(mockapi.Config{MaxRecorded: -1})
		defer srv.Close()
		benchmarkPool(b, srv, Config{Workers: 16, Rate: rate, Burst: 1})
		st := srv.Stats(0)
		b.ReportMetric(st.Rate/rate, "of-rate")
		b.ReportMetric(float64(st.Max1s), "max-in-1s")
	})
}
