package mockapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// StatsPath is the path of the statistics endpoint: `GET {host}/_sim/stats`
// answers Stats as JSON. It lies outside BasePath so that it can never be
// mistaken for an API call, and its requests are not counted.
const StatsPath = "/_sim/stats"

// Stats is what the server counted, as the statistics endpoint reports it.
// Times are nanoseconds on the server's monotonic clock since it was created.
// The arrival fields cover the requests that arrived at or after SinceNS, so
// that a benchmark can measure one phase of a longer run; Total and Status
// always cover the whole life of the server (a phase diffs two snapshots).
type Stats struct {
	NowNS    int64   `json:"now_ns"`   // when these stats were taken: pass it as since_ns to measure what follows
	SinceNS  int64   `json:"since_ns"` // the start of the window the arrival fields cover
	Requests int     `json:"requests"` // arrivals in the window
	FirstNS  int64   `json:"first_ns"` // the window's first arrival; 0 when there was none
	LastNS   int64   `json:"last_ns"`  // the window's last arrival; 0 when there was none
	Rate     float64 `json:"rate"`     // Requests / (LastNS - FirstNS) in requests per second; 0 below two arrivals
	Max1s    int     `json:"max_1s"`   // the most arrivals in any window [t, t+1s) within the window

	Total  int            `json:"total"`  // every request that reached the handler since the start
	Status map[string]int `json:"status"` // answers since the start by HTTP status, or "none", "reset", "hang"
}

// Stats returns what the server counted, the arrival fields restricted to the
// requests that arrived at least since after the server was created. Sorting
// the arrival times makes it cost O(n log n) in the requests seen so far: it is
// meant to be called between the phases of a benchmark, not during one.
func (s *Server) Stats(since time.Duration) Stats {
	st := Stats{
		NowNS:   time.Since(s.led.start).Nanoseconds(),
		SinceNS: since.Nanoseconds(),
		Total:   s.Total(),
		Status:  make(map[string]int),
	}
	times := s.led.times()
	i, _ := slices.BinarySearch(times, st.SinceNS)
	times = times[i:]
	if n := len(times); n > 0 {
		st.Requests = n
		st.FirstNS, st.LastNS = times[0], times[n-1]
		if span := st.LastNS - st.FirstNS; span > 0 {
			st.Rate = float64(n) / (float64(span) / 1e9)
		}
		st.Max1s = maxInWindow(times, time.Second.Nanoseconds())
	}
	for code, n := range s.StatusCounts() {
		st.Status[statusName(code)] = n
	}
	return st
}

// statusName names a status as the count log lines do.
func statusName(code int) string {
	switch code {
	case StatusNone:
		return "none"
	case StatusReset:
		return "reset"
	case StatusHang:
		return "hang"
	}
	return strconv.Itoa(code)
}

// serveStats answers GET StatsPath[?since_ns=N] with Stats as JSON.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header()["Allow"] = []string{http.MethodGet}
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	var since int64
	if v := r.URL.Query().Get("since_ns"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "since_ns must be a non-negative integer", http.StatusBadRequest)
			return
		}
		since = n
	}
	b, err := json.Marshal(s.Stats(time.Duration(since)))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header()["Content-Type"] = s.out.json
	w.Write(append(b, '\n'))
}
