// Package cache is the document cache: live documents by (collection, key),
// bounded by the memory they take rather than by their number, so a few
// large documents cannot push the process over its memory budget
// (Persistence.CacheSizeMb). It wraps maypok86/otter v2, whose W-TinyLFU
// policy and weighted bound do the real work; this package decides what an
// entry costs (weight.go) and stores each compactly.
package cache

import (
	"math"
	"strings"
	"sync/atomic"
	"unique"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

type cacheKey struct {
	collection, key string
}

// entry is a cached document without its collection and key, which the
// cache key holds already.
type entry struct {
	data      []byte
	node      string // the stamp's node id, interned
	wall      int64
	expiresAt int64
	logical   int32
	deleted   bool
}

// Cache implements ports.DocumentCache. It is safe for concurrent use.
type Cache struct {
	maxBytes int64
	c        *otter.Cache[cacheKey, entry] // nil when caching is disabled
	counter  *stats.Counter
	// disabledMisses counts lookups of a disabled cache (every one misses).
	disabledMisses atomic.Int64
}

var _ ports.DocumentCache = (*Cache)(nil)

// New returns a cache whose entries take at most about maxBytes of memory,
// each weighed as its body, its key and a fixed overhead (weight.go).
// maxBytes <= 0 disables caching: every Get misses and Set does nothing.
func New(maxBytes int64) *Cache {
	if maxBytes <= 0 {
		return &Cache{}
	}
	counter := stats.NewCounter()
	c := otter.Must(&otter.Options[cacheKey, entry]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       weigh,
		StatsRecorder: evictionRecorder{counter},
	})
	return &Cache{maxBytes: maxBytes, c: c, counter: counter}
}

// compact makes the entry the cache keeps of doc and its key: the body
// copied into an allocation of its own (a caller's slice may share a larger
// buffer, whose whole size the cache would keep alive), the key copied for
// the same reason, the collection and node id interned (few distinct ones,
// each held once however many documents name it).
func compact(doc domain.Document) (cacheKey, entry) {
	var data []byte
	if len(doc.Data) > 0 {
		data = append([]byte(nil), doc.Data...)
	}
	k := cacheKey{collection: unique.Make(doc.Collection).Value(), key: strings.Clone(doc.Key)}
	return k, entry{data: data, node: unique.Make(doc.Stamp.Node).Value(), wall: doc.Stamp.Wall,
		expiresAt: doc.ExpiresAt, logical: doc.Stamp.Logical, deleted: doc.Deleted}
}

func (e entry) stamp() domain.Timestamp {
	return domain.Timestamp{Wall: e.wall, Logical: e.logical, Node: e.node}
}

// Get returns the cached document, tombstones included (Deleted set).
func (c *Cache) Get(collection, key string) (domain.Document, bool) {
	if c.c == nil {
		c.disabledMisses.Add(1)
		return domain.Document{}, false
	}
	e, ok := c.c.GetIfPresent(cacheKey{collection, key})
	if !ok {
		c.counter.RecordMisses(1)
		return domain.Document{}, false
	}
	c.counter.RecordHits(1)
	return domain.Document{Collection: collection, Key: key, Data: e.data, Stamp: e.stamp(),
		Deleted: e.deleted, ExpiresAt: e.expiresAt}, true
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
	if weight(len(doc.Key), len(doc.Data)) > c.maxBytes {
		c.c.Invalidate(cacheKey{doc.Collection, doc.Key}) // whatever is held is older than doc
		return
	}
	k, e := compact(doc)
	c.c.Compute(k, func(old entry, found bool) (entry, otter.ComputeOp) {
		if found && old.stamp().After(doc.Stamp) {
			return old, otter.CancelOp
		}
		return e, otter.WriteOp
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
