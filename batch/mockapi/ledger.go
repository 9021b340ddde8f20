package mockapi

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// shardCount spreads the ledger over several mutexes so that 64 concurrent
// clients do not queue on one lock. A power of two, so a mask picks the shard.
const shardCount = 16

// ledger records what the server saw: arrival times, per-ICCID tallies, the
// answered statuses and a bounded copy of the requests.
type ledger struct {
	start       time.Time // arrival times are nanoseconds since start (monotonic)
	maxRecorded int64     // requests kept for Requests; 0 keeps none

	total    atomic.Int64
	recorded atomic.Int64               // requests admitted to the kept list (a few extra under concurrency)
	status   [600]atomic.Int64          // answers by HTTP status
	special  [specialCount]atomic.Int64 // resets, hangs, no answer
	shards   [shardCount]shard
}

// specialCount is the number of non-HTTP outcomes counted in ledger.special,
// indexed by -status: 0 no answer, 1 reset, 2 hang.
const specialCount = 3

// shard is one slice of the ledger.
type shard struct {
	// mu guards the fields below.
	mu      sync.Mutex
	tallies map[string]tally
	times   []int64
	kept    []keptRequest
}

// tally is what one ICCID received.
type tally struct {
	calls, successes int32
}

// keptRequest orders Requests by arrival across shards.
type keptRequest struct {
	seq int64
	req Request
}

func newLedger(maxRecorded int) *ledger {
	l := &ledger{start: time.Now(), maxRecorded: int64(max(maxRecorded, 0))}
	for i := range l.shards {
		l.shards[i].tallies = make(map[string]tally)
	}
	return l
}

// arrive counts a request and stores its arrival time. The shard is picked by
// sequence number, round robin, so that appends do not contend.
func (l *ledger) arrive() (seq int64, at time.Time) {
	at = time.Now()
	seq = l.total.Add(1)
	l.arriveAt(seq, at.Sub(l.start).Nanoseconds())
	return seq, at
}

func (l *ledger) arriveAt(seq, ns int64) {
	sh := &l.shards[seq&(shardCount-1)]
	sh.mu.Lock()
	sh.times = append(sh.times, ns)
	sh.mu.Unlock()
}

// attribute counts one call for iccid and returns how many calls it had
// before this one, which is its position in a Script.
func (l *ledger) attribute(iccid string) int {
	sh := &l.shards[shardOf(iccid)]
	sh.mu.Lock()
	t := sh.tallies[iccid]
	n := t.calls
	t.calls++
	sh.tallies[iccid] = t
	sh.mu.Unlock()
	return int(n)
}

// finish counts the answer and keeps a copy of the request while there is room.
// success says whether the answer reported a started reset.
func (l *ledger) finish(seq int64, req *Request, success bool) {
	switch st := req.Status; {
	case st >= 100 && st < len(l.status):
		l.status[st].Add(1)
	case st <= 0 && -st < specialCount:
		l.special[-st].Add(1)
	}
	keep := l.wantsCopy()
	if keep {
		l.recorded.Add(1)
	}
	if !success && !keep {
		return
	}
	if success && req.ICCID != "" {
		sh := &l.shards[shardOf(req.ICCID)]
		sh.mu.Lock()
		t := sh.tallies[req.ICCID]
		t.successes++
		sh.tallies[req.ICCID] = t
		sh.mu.Unlock()
	}
	if keep {
		sh := &l.shards[seq&(shardCount-1)]
		sh.mu.Lock()
		sh.kept = append(sh.kept, keptRequest{seq: seq, req: *req})
		sh.mu.Unlock()
	}
}

// wantsCopy reports whether the kept list still has room. It may let a few
// more than maxRecorded through under concurrency; Requests trims them.
func (l *ledger) wantsCopy() bool {
	return l.recorded.Load() < l.maxRecorded
}

func (l *ledger) tallyOf(iccid string) tally {
	sh := &l.shards[shardOf(iccid)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.tallies[iccid]
}

func (l *ledger) calls() map[string]int {
	m := make(map[string]int)
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for k, t := range sh.tallies {
			m[k] = int(t.calls)
		}
		sh.mu.Unlock()
	}
	return m
}

func (l *ledger) requests() []Request {
	var all []keptRequest
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		all = append(all, sh.kept...)
		sh.mu.Unlock()
	}
	slices.SortFunc(all, func(a, b keptRequest) int { return int(a.seq - b.seq) })
	if int64(len(all)) > l.maxRecorded {
		all = all[:l.maxRecorded]
	}
	out := make([]Request, len(all))
	for i, k := range all {
		out[i] = k.req
	}
	return out
}

func (l *ledger) times() []int64 {
	var all []int64
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		all = append(all, sh.times...)
		sh.mu.Unlock()
	}
	slices.Sort(all)
	return all
}

func (l *ledger) statusCounts() map[int]int {
	m := make(map[int]int)
	for st := range l.status {
		if n := l.status[st].Load(); n > 0 {
			m[st] = int(n)
		}
	}
	for i := range l.special {
		if n := l.special[i].Load(); n > 0 {
			m[-i] = int(n)
		}
	}
	return m
}

// maxInWindow returns the largest number of sorted arrival times that fit in a
// half-open window [t, t+w).
func maxInWindow(sorted []int64, w int64) int {
	if w <= 0 {
		return 0
	}
	best, i := 0, 0
	for j, t := range sorted {
		for t-sorted[i] >= w {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

// shardOf hashes an ICCID (FNV-1a) to its shard without allocating.
func shardOf(s string) int {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return int(h & (shardCount - 1))
}
