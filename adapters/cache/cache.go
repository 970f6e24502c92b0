// Package cache is the document cache: live documents by (collection, key),
// bounded by their size in bytes rather than by their number, so a few large
// documents cannot push the process over its memory budget
// (Persistence.CacheSizeMb). It wraps maypok86/otter v2, whose W-TinyLFU
// policy and weighted bound do the real work.
package cache

import (
	"math"
	"sync/atomic"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

type cacheKey struct {
	collection, key string
}

// Cache implements ports.DocumentCache. It is safe for concurrent use.
type Cache struct {
	maxBytes int64
	c        *otter.Cache[cacheKey, domain.Document] // nil when caching is disabled
	counter  *stats.Counter
	// disabledMisses counts lookups of a disabled cache (every one misses).
	disabledMisses atomic.Int64
}

var _ ports.DocumentCache = (*Cache)(nil)

// New returns a cache holding at most maxBytes bytes of documents, weighing
// each as len(collection)+len(key)+len(body). maxBytes <= 0 disables caching:
// every Get misses and Set does nothing.
func New(maxBytes int64) *Cache {
	if maxBytes <= 0 {
		return &Cache{}
	}
	counter := stats.NewCounter()
	c := otter.Must(&otter.Options[cacheKey, domain.Document]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       weigh,
		StatsRecorder: evictionRecorder{counter},
	})
	return &Cache{maxBytes: maxBytes, c: c, counter: counter}
}

func weigh(k cacheKey, d domain.Document) uint32 {
	w := len(k.collection) + len(k.key) + len(d.Data)
	if w > math.MaxUint32 {
		return math.MaxUint32
	}
	// A zero weight would exempt the entry from size-based eviction.
	return uint32(max(w, 1))
}

// Get returns the cached document, tombstones included (Deleted set).
func (c *Cache) Get(collection, key string) (domain.Document, bool) {
	if c.c == nil {
		c.disabledMisses.Add(1)
		return domain.Document{}, false
	}
	d, ok := c.c.GetIfPresent(cacheKey{collection, key})
	if ok {
		c.counter.RecordHits(1)
	} else {
		c.counter.RecordMisses(1)
	}
	return d, ok
}

// evictionRecorder passes otter's evictions on to the counter but not its
// hits and misses: otter also counts Compute's lookups, which are writes
// here, so Get counts reads itself.
type evictionRecorder struct{ *stats.Counter }

func (evictionRecorder) RecordHits(int)   {}
func (evictionRecorder) RecordMisses(int) {}

// Set stores doc unless the cache already holds a strictly newer version of
// the key: a late writer (a reader filling a miss with what it read before a
// write landed) can never replace a newer document with an older one.
// Documents larger than the whole budget are not stored.
func (c *Cache) Set(doc domain.Document) {
	if c.c == nil {
		return
	}
	k := cacheKey{doc.Collection, doc.Key}
	if int64(weigh(k, doc)) > c.maxBytes {
		c.c.Invalidate(k) // whatever is held is older than doc
		return
	}
	c.c.Compute(k, func(old domain.Document, found bool) (domain.Document, otter.ComputeOp) {
		if found && old.Stamp.After(doc.Stamp) {
			return old, otter.CancelOp
		}
		return doc, otter.WriteOp
	})
}

// Invalidate drops the key.
func (c *Cache) Invalidate(collection, key string) {
	if c.c == nil {
		return
	}
	c.c.Invalidate(cacheKey{collection, key})
}

// Stats returns the counters. It runs pending maintenance first so Entries
// and Bytes reflect evictions already due.
func (c *Cache) Stats() ports.CacheStats {
	if c.c == nil {
		return ports.CacheStats{Misses: c.disabledMisses.Load()}
	}
	c.c.CleanUp()
	s := c.counter.Snapshot()
	return ports.CacheStats{
		Hits:      clampInt64(s.Hits),
		Misses:    clampInt64(s.Misses),
		Evictions: clampInt64(s.Evictions),
		Entries:   c.c.EstimatedSize(),
		Bytes:     clampInt64(c.c.WeightedSize()),
		MaxBytes:  c.maxBytes,
	}
}

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
