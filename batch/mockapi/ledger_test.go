package mockapi

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestMaxInWindow(t *testing.T) {
	tests := []struct {
		name  string
		times []int64
		w     int64
		want  int
	}{
		{"none", nil, 10, 0},
		{"zero window", []int64{0, 1, 2}, 0, 0},
		{"negative window", []int64{0, 1, 2}, -5, 0},
		{"one", []int64{7}, 1, 1},
		{"evenly spaced, window of the spacing", []int64{0, 10, 20, 30}, 10, 1},
		{"evenly spaced, just over the spacing", []int64{0, 10, 20, 30}, 11, 2},
		{"evenly spaced, all", []int64{0, 10, 20, 30}, 31, 4},
		{"evenly spaced, window ends on the last", []int64{0, 10, 20, 30}, 30, 3},
		{"simultaneous", []int64{0, 0, 0, 5, 100}, 1, 3},
		{"burst then trickle", []int64{0, 0, 0, 5, 100}, 6, 4},
		{"burst in the middle", []int64{0, 50, 51, 52, 53, 100, 200}, 4, 4},
		{"burst at the end", []int64{0, 100, 200, 300, 301, 302}, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxInWindow(tt.times, tt.w); got != tt.want {
				t.Errorf("maxInWindow(%v, %d) = %d, want %d", tt.times, tt.w, got, tt.want)
			}
		})
	}
}

// TestMaxInWindowOnRecordedArrivals feeds known arrival times through the
// shards, out of order, as concurrent handlers would.
func TestMaxInWindowOnRecordedArrivals(t *testing.T) {
	s := NewUnstartedServer(Config{})
	// 10 requests per second for 3 s, plus a burst of 5 at 1.5 s.
	var times []int64
	for i := range 30 {
		times = append(times, int64(i)*int64(100*time.Millisecond))
	}
	for range 5 {
		times = append(times, int64(1500*time.Millisecond))
	}
	for i := len(times) - 1; i >= 0; i-- { // reversed, spread over the shards
		s.led.arriveAt(int64(i), times[i])
	}
	for _, tt := range []struct {
		w    time.Duration
		want int
	}{
		{time.Nanosecond, 6}, // the burst and the tick at 1.5 s
		{100 * time.Millisecond, 6},
		{time.Second, 15},
		{time.Hour, 35},
	} {
		if got := s.MaxInWindow(tt.w); got != tt.want {
			t.Errorf("MaxInWindow(%v) = %d, want %d", tt.w, got, tt.want)
		}
	}
}

func TestMaxInWindowOverHTTP(t *testing.T) {
	s := startServer(t, Config{})
	c := newClient(t)
	for range 10 {
		send(t, c, s, call{})
	}
	for _, tt := range []struct {
		w    time.Duration
		want int
	}{{0, 0}, {time.Nanosecond, 1}, {time.Hour, 10}} {
		if got := s.MaxInWindow(tt.w); got != tt.want {
			t.Errorf("MaxInWindow(%v) = %d, want %d", tt.w, got, tt.want)
		}
	}
}

func TestLedgerUnderConcurrency(t *testing.T) {
	const clients, each, sims = 64, 20, 40
	s := startServer(t, Config{})
	c := newClient(t)
	var wg sync.WaitGroup
	for g := range clients {
		wg.Go(func() {
			for i := range each {
				iccid := fmt.Sprintf("89000000000000%05d", (g*each+i)%sims)
				if got := send(t, c, s, call{body: ptr(`{"ICCID":"` + iccid + `"}`)}); got.status != 200 {
					t.Errorf("%s: got %d %v", iccid, got.status, got.err)
				}
			}
		})
	}
	wg.Wait()
	if got, want := s.Total(), clients*each; got != want {
		t.Errorf("Total = %d, want %d", got, want)
	}
	ledger := s.Ledger()
	if len(ledger) != sims {
		t.Errorf("Ledger has %d ICCIDs, want %d", len(ledger), sims)
	}
	for iccid, n := range ledger {
		if want := clients * each / sims; n != want || s.Calls(iccid) != want || s.Successes(iccid) != want {
			t.Errorf("%s: ledger %d, Calls %d, Successes %d, want %d", iccid, n, s.Calls(iccid), s.Successes(iccid), want)
		}
	}
	if got, want := len(s.Requests()), clients*each; got != want {
		t.Errorf("Requests has %d, want %d", got, want)
	}
	if got, want := s.StatusCounts(), map[int]int{200: clients * each}; len(got) != 1 || got[200] != want[200] {
		t.Errorf("StatusCounts = %v, want %v", got, want)
	}
	ledger["x"] = 1
	if _, ok := s.Ledger()["x"]; ok {
		t.Error("Ledger does not return a copy")
	}
}

func TestShardOfSpreads(t *testing.T) {
	var seen [shardCount]int
	for i := range 1600 {
		seen[shardOf(fmt.Sprintf("8981100000%09d", i))]++
	}
	for i, n := range seen {
		if n < 50 || n > 150 {
			t.Errorf("shard %d got %d of 1600", i, n)
		}
	}
}
