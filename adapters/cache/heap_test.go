package cache_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/cache"
	"github.com/entgldb/entgldb-go/domain"
)

// storedDoc is a JSON document as the store hands it over, every string and
// the body freshly allocated as a row scan makes them; its bio has about
// words words.
func storedDoc(i, words int) domain.Document {
	body := fmt.Appendf(nil, `{"name":"user %d","email":"user%d@example.com","age":%d,"tags":["a","b"],"bio":"%s"}`,
		i, i, 20+i%50, strings.Repeat("lorem ipsum ", words+i%(words/2+1)))
	return domain.Document{
		Collection: strings.Clone("users"),
		Key:        fmt.Sprintf("user-%08d", i),
		Data:       body,
		Stamp:      domain.Timestamp{Wall: int64(1e12 + i), Node: strings.Clone("node-3f9a1c2e4b5d6f70")},
	}
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// The budget bounds the heap the cache really takes: filled with twice its
// budget of documents, small, typical or large, the cache holds
// the budget's worth of heap within a tenth, and fills most of it.
func TestHeapWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 64 MB of documents")
	}
	for _, tc := range []struct {
		name   string
		words  int
		budget int64
	}{{"small ~140 B", 2, 8 << 20}, {"typical ~560 B", 30, 32 << 20}, {"large ~4.6 KB", 300, 32 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			budget := tc.budget
			before := heapAlloc()
			c := cache.New(budget)
			var docBytes int64
			for i := 0; docBytes < 2*budget; i++ {
				d := storedDoc(i, tc.words)
				docBytes += int64(len(d.Data))
				c.Set(d)
			}
			st := c.Stats()
			heap := int64(heapAlloc()) - int64(before)
			t.Logf("%d entries, heap %.1f MiB for a %.0f MiB budget", st.Entries, float64(heap)/(1<<20), float64(budget)/(1<<20))
			assert.LessOrEqual(t, heap, int64(budget*11/10), "heap within 10 %% over the budget")
			assert.GreaterOrEqual(t, heap, int64(budget*8/10), "the budget is used, not wasted")
			assert.LessOrEqual(t, st.Bytes, budget)
			runtime.KeepAlive(c)
		})
	}
}

// A working set whose documents take well under the budget is served from
// the cache once warm: what an entry costs beyond its body does not make a
// cache sized for its documents thrash.
func TestWorkingSetWithinBudgetHits(t *testing.T) {
	const budget = 8 << 20
	c := cache.New(budget)
	var docs []domain.Document
	for bytes := 0; bytes < budget*6/10; {
		d := storedDoc(len(docs), 30)
		bytes += len(d.Data)
		docs = append(docs, d)
	}
	read := func() (hits int) {
		for _, d := range docs {
			if _, ok := c.Get(d.Collection, d.Key); ok {
				hits++
			} else {
				c.Set(d)
			}
		}
		return hits
	}
	read()
	read()
	hits := read()
	require.NotEmpty(t, docs)
	assert.GreaterOrEqual(t, float64(hits)/float64(len(docs)), 0.95, "%d of %d", hits, len(docs))
}
