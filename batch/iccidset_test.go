package batch

import (
	"fmt"
	"runtime"
	"testing"
)

// TestICCIDTableAtAMillion checks the table growing and presized, and the
// memory budget behind it: a million entries well under 30 MB.
func TestICCIDTableAtAMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds million-entry sets")
	}
	const n = 1_000_000
	for _, hint := range []int{0, n} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := NewICCIDTable(hint)
		for i := range n {
			if got := s.FirstRow(KeyOf(fmt.Sprintf("8988299%013d", i)), int32(i+1)); got != 0 {
				t.Fatalf("hint %d: new ICCID %d already seen on row %d", hint, i, got)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		for _, i := range []int{0, 1, 4242, n - 1} {
			if got := s.FirstRow(KeyOf(fmt.Sprintf("8988299%013d", i)), 1<<30); got != int32(i+1) {
				t.Errorf("hint %d: ICCID %d first seen on row %d, want %d", hint, i, got, i+1)
			}
		}
		if s.n != n {
			t.Errorf("hint %d: %d entries, want %d", hint, s.n, n)
		}
		used := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
		t.Logf("hint %d: %d entries in %.1f MB", hint, n, used)
		if hint > 0 && used > 24 {
			t.Errorf("a million seen ICCIDs take %.1f MB, want under 24", used)
		}
		runtime.KeepAlive(s)
	}
}

func TestICCIDTableSetAndGet(t *testing.T) {
	tab := NewICCIDTable(0)
	a, b := KeyOf("89882990000000001013"), KeyOf("8981290000000001026")
	if got := tab.Get(a); got != 0 {
		t.Errorf("Get on an empty table = %d, want 0", got)
	}
	tab.Set(a, 1)
	tab.Set(a, 2) // overwrites, does not add
	tab.Set(b, 1)
	if got, want := tab.Get(a), int32(2); got != want {
		t.Errorf("Get(a) = %d, want %d", got, want)
	}
	if got := tab.FirstRow(b, 9); got != 1 {
		t.Errorf("FirstRow(b) = %d, want the value set before (1)", got)
	}
	if got, want := tab.Len(), 2; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if got := (*ICCIDTable)(nil).Get(a); got != 0 {
		t.Errorf("Get on a nil table = %d, want 0", got)
	}
}
