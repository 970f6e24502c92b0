package cache_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/cache"
	"github.com/entgldb/entgldb-go/domain"
)

func doc(key string, wall int64, size int) domain.Document {
	return domain.Document{
		Collection: "c",
		Key:        key,
		Data:       bytes.Repeat([]byte("x"), size),
		Stamp:      domain.Timestamp{Wall: wall, Node: "n"},
	}
}

func TestGetSetInvalidate(t *testing.T) {
	c := cache.New(1 << 20)
	_, ok := c.Get("c", "k")
	assert.False(t, ok)

	c.Set(doc("k", 1, 10))
	got, ok := c.Get("c", "k")
	require.True(t, ok)
	assert.Equal(t, int64(1), got.Stamp.Wall)

	c.Invalidate("c", "k")
	_, ok = c.Get("c", "k")
	assert.False(t, ok)

	// The same key in another collection is another entry.
	c.Set(doc("k", 1, 10))
	_, ok = c.Get("other", "k")
	assert.False(t, ok)
}

func TestSetNeverReplacesNewerVersion(t *testing.T) {
	c := cache.New(1 << 20)
	c.Set(doc("k", 5, 10))
	c.Set(doc("k", 3, 20)) // a late reader filling with what it read earlier
	got, ok := c.Get("c", "k")
	require.True(t, ok)
	assert.Equal(t, int64(5), got.Stamp.Wall)

	c.Set(doc("k", 7, 30))
	got, _ = c.Get("c", "k")
	assert.Equal(t, int64(7), got.Stamp.Wall)

	tomb := domain.Document{Collection: "c", Key: "k", Stamp: domain.Timestamp{Wall: 8, Node: "n"}, Deleted: true}
	c.Set(tomb)
	got, ok = c.Get("c", "k")
	require.True(t, ok)
	assert.True(t, got.Deleted)
}

func TestBoundIsInBytes(t *testing.T) {
	const maxBytes = 10_000
	c := cache.New(maxBytes)
	// 100 documents of ~1 KB each: ten times the budget.
	for i := range 100 {
		c.Set(doc(fmt.Sprintf("k%03d", i), 1, 1000))
	}
	s := c.Stats()
	assert.LessOrEqual(t, s.Bytes, int64(maxBytes))
	assert.Greater(t, s.Bytes, int64(0))
	assert.LessOrEqual(t, s.Entries, 10)
	assert.Greater(t, s.Evictions, int64(0))
	assert.Equal(t, int64(maxBytes), s.MaxBytes)

	// Many small documents fit where few large ones did: the bound is bytes, not entries.
	const smallBudget = 100 * maxBytes
	small := cache.New(smallBudget)
	for i := range 100 {
		small.Set(doc(fmt.Sprintf("k%03d", i), 1, 10))
	}
	s = small.Stats()
	assert.Equal(t, 100, s.Entries)
	// Each costs its key and body and an overhead (what the cache's
	// memory really is), far less than a large document.
	assert.Greater(t, s.Bytes, int64(100*(4+10)))
	assert.Less(t, s.Bytes, int64(100*1000))
	assert.Equal(t, int64(0), s.Evictions)
}

func TestDocumentLargerThanBudgetIsNotStored(t *testing.T) {
	c := cache.New(1000)
	c.Set(doc("k", 1, 10))
	_, ok := c.Get("c", "k")
	require.True(t, ok, "a small document fits")
	c.Set(doc("k", 2, 5000))
	_, ok = c.Get("c", "k")
	assert.False(t, ok, "the older small version must not survive a newer oversized one")
	assert.Equal(t, 0, c.Stats().Entries)
}

func TestStatsCounted(t *testing.T) {
	c := cache.New(1 << 20)
	c.Set(doc("a", 1, 10))
	c.Get("c", "a")
	c.Get("c", "a")
	c.Get("c", "missing")
	s := c.Stats()
	assert.Equal(t, int64(2), s.Hits)
	assert.Equal(t, int64(1), s.Misses)
	assert.Equal(t, 1, s.Entries)
	assert.InDelta(t, 2.0/3.0, s.HitRate(), 1e-9)
}

func TestDisabled(t *testing.T) {
	c := cache.New(0)
	c.Set(doc("a", 1, 10))
	_, ok := c.Get("c", "a")
	assert.False(t, ok)
	s := c.Stats()
	assert.Equal(t, int64(1), s.Misses)
	assert.Equal(t, 0, s.Entries)
}

func TestConcurrentUse(t *testing.T) {
	c := cache.New(50_000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := fmt.Sprintf("k%d", i%300)
				switch i % 4 {
				case 0:
					c.Set(doc(key, int64(i), 100+g))
				case 1:
					c.Invalidate("c", key)
				default:
					if d, ok := c.Get("c", key); ok {
						assert.Equal(t, key, d.Key)
					}
				}
			}
		})
	}
	wg.Wait()
	s := c.Stats()
	assert.LessOrEqual(t, s.Bytes, int64(50_000))
	assert.Equal(t, int64(8*2000/2), s.Hits+s.Misses)
}

func BenchmarkGetHit(b *testing.B) {
	c := cache.New(64 << 20)
	c.Set(doc("k", 1, 500))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Get("c", "k"); !ok {
				b.Fatal("miss")
			}
		}
	})
}

func BenchmarkSet(b *testing.B) {
	c := cache.New(64 << 20)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Set(doc(keys[i%len(keys)], int64(i), 500))
		i++
	}
}
