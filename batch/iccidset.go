package batch

import (
	"encoding/binary"
	"math/bits"
)

// ICCIDTable maps ICCIDs, as ICCIDKey, to a positive int32: the reader keeps the
// row of each ICCID's first occurrence in one, the resume set whether its latest
// line says reset. It is an open-addressing table of 16-byte slots, sized from
// the record count when that is known: a million entries take 20 MB, where a Go
// map, which doubles its tables, takes 36 MB just past a million. Value 0 marks
// an empty slot. It is not safe for concurrent writes.
type ICCIDTable struct {
	slots []tableSlot
	n     int
}

type tableSlot struct {
	key ICCIDKey
	val int32
}

// NewICCIDTable returns a table for about hint ICCIDs (0: unknown, grow as needed).
func NewICCIDTable(hint int) *ICCIDTable {
	return &ICCIDTable{slots: make([]tableSlot, max(1024, hint+hint/4))}
}

// FirstRow returns k's value when k is present; otherwise it adds k with val and
// returns 0. val must be positive.
func (t *ICCIDTable) FirstRow(k ICCIDKey, val int32) int32 {
	sl := t.slot(k)
	if sl.val == 0 {
		sl.key, sl.val = k, val
		t.n++
		return 0
	}
	return sl.val
}

// Set gives k the value val, which must be positive.
func (t *ICCIDTable) Set(k ICCIDKey, val int32) {
	sl := t.slot(k)
	if sl.val == 0 {
		sl.key = k
		t.n++
	}
	sl.val = val
}

// Get returns k's value, 0 when k is absent.
func (t *ICCIDTable) Get(k ICCIDKey) int32 {
	if t == nil {
		return 0
	}
	for i := t.home(k); ; {
		sl := &t.slots[i]
		if sl.val == 0 || sl.key == k {
			return sl.val
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// Len returns the number of ICCIDs in the table.
func (t *ICCIDTable) Len() int { return t.n }

// slot returns k's slot, or the empty slot where k belongs, growing the table
// first past 85% full (a presized table never does): linear probing slows down
// sharply beyond that.
func (t *ICCIDTable) slot(k ICCIDKey) *tableSlot {
	if (t.n+1)*20 > len(t.slots)*17 {
		t.grow()
	}
	for i := t.home(k); ; {
		sl := &t.slots[i]
		if sl.val == 0 || sl.key == k {
			return sl
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

func (t *ICCIDTable) grow() {
	old := t.slots
	t.slots = make([]tableSlot, len(old)+len(old)/2)
	t.n = 0
	for _, sl := range old {
		if sl.val != 0 {
			t.Set(sl.key, sl.val)
		}
	}
}

// home is the slot where k's probe starts: the key's bits mixed (the
// splitmix64 finaliser), then mapped onto the table by multiplication, so
// that the table size need not be a power of two.
func (t *ICCIDTable) home(k ICCIDKey) int {
	h := binary.LittleEndian.Uint64(k[:8])*0x9E3779B97F4A7C15 ^ uint64(binary.LittleEndian.Uint32(k[8:]))
	h ^= h >> 30
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 27
	h *= 0x94D049BB133111EB
	h ^= h >> 31
	i, _ := bits.Mul64(h, uint64(len(t.slots)))
	return int(i)
}
