package cache

import (
	"math"
)

// entryOverhead is what an entry costs beyond its body and key bytes: the
// entry and key structs, otter's node (list links, weight, frequency) and
// its slot in otter's hash table, the allocator's rounding of the body and
// key, and the admission sketch's share. TestHeapWithinBudget measures the
// heap of a cache filled past its budget against it.
const entryOverhead = 192

// weight is what an entry of these sizes costs; the collection and node id
// are interned, so they cost nothing per entry.
func weight(keyLen, dataLen int) int64 {
	return int64(keyLen) + int64(dataLen) + entryOverhead
}

func weigh(k cacheKey, e entry) uint32 {
	w := weight(len(k.key), cap(e.data))
	if w > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(w)
}
