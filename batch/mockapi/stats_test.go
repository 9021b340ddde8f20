package mockapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestStatsWindow(t *testing.T) {
	ms := int64(time.Millisecond)
	s := NewUnstartedServer(Config{})
	for i, at := range []int64{0, 500 * ms, 900 * ms, 1200 * ms, 3000 * ms} {
		s.led.arriveAt(int64(i+1), at)
	}
	for _, tc := range []struct {
		since           time.Duration
		requests, max1s int
		first, last     int64
		rate            float64
	}{
		{since: 0, requests: 5, max1s: 3, first: 0, last: 3000 * ms, rate: 5.0 / 3},
		{since: 600 * time.Millisecond, requests: 3, max1s: 2, first: 900 * ms, last: 3000 * ms, rate: 3 / 2.1},
		{since: 3 * time.Second, requests: 1, max1s: 1, first: 3000 * ms, last: 3000 * ms, rate: 0},
		{since: 4 * time.Second, requests: 0, max1s: 0, first: 0, last: 0, rate: 0},
	} {
		t.Run(tc.since.String(), func(t *testing.T) {
			st := s.Stats(tc.since)
			if st.SinceNS != tc.since.Nanoseconds() || st.Requests != tc.requests || st.Max1s != tc.max1s ||
				st.FirstNS != tc.first || st.LastNS != tc.last {
				t.Errorf("got since %d requests %d max1s %d first %d last %d, want %d %d %d %d %d",
					st.SinceNS, st.Requests, st.Max1s, st.FirstNS, st.LastNS,
					tc.since.Nanoseconds(), tc.requests, tc.max1s, tc.first, tc.last)
			}
			if d := st.Rate - tc.rate; d > 1e-9 || d < -1e-9 {
				t.Errorf("rate: got %v, want %v", st.Rate, tc.rate)
			}
		})
	}
}

func TestStatsEndpoint(t *testing.T) {
	s := startServer(t, Config{Org: testOrg, APIKey: testKey})
	c := newClient(t)
	for _, cl := range []call{{}, {}, {key: ptr("wrong")}} {
		if r := send(t, c, s, cl); r.err != nil {
			t.Fatal(r.err)
		}
	}
	get := func(query string) (int, Stats) {
		t.Helper()
		r := send(t, c, s, call{method: http.MethodGet, path: StatsPath + query, body: ptr("")})
		if r.err != nil {
			t.Fatal(r.err)
		}
		var st Stats
		if r.status == http.StatusOK {
			if err := json.Unmarshal([]byte(r.body), &st); err != nil {
				t.Fatalf("stats answer %q: %v", r.body, err)
			}
		}
		return r.status, st
	}

	status, all := get("")
	if status != http.StatusOK || all.Total != 3 || all.Requests != 3 || all.Max1s != 3 {
		t.Errorf("got status %d total %d requests %d max1s %d, want 200 3 3 3", status, all.Total, all.Requests, all.Max1s)
	}
	if want := map[string]int{"200": 2, "401": 1}; !maps.Equal(all.Status, want) {
		t.Errorf("status counts: got %v, want %v", all.Status, want)
	}
	// The stats requests themselves are not counted, and since_ns drops what came before.
	status, later := get("?since_ns=" + strconv.FormatInt(all.NowNS, 10))
	if status != http.StatusOK || later.Total != 3 || later.Requests != 0 || later.NowNS < all.NowNS {
		t.Errorf("got status %d total %d requests %d now %d, want 200 3 0 >= %d", status, later.Total, later.Requests, later.NowNS, all.NowNS)
	}

	for _, tc := range []struct {
		name, method, query string
		want                int
	}{
		{"negative since", http.MethodGet, "?since_ns=-1", http.StatusBadRequest},
		{"garbage since", http.MethodGet, "?since_ns=soon", http.StatusBadRequest},
		{"not GET", http.MethodPut, "", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, c, s, call{method: tc.method, path: StatsPath + tc.query, body: ptr("")})
			if r.err != nil || r.status != tc.want {
				t.Errorf("got %d %v, want %d", r.status, r.err, tc.want)
			}
		})
	}
	if got := s.Total(); got != 3 {
		t.Errorf("Total after the stats requests: got %d, want 3", got)
	}
}
