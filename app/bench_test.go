package app_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// doc500 is a ~500-byte JSON object, the size of the storage benchmarks.
var doc500 = []byte(`{"name":"benchmark","pad":"` + strings.Repeat("x", 470) + `"}`)

// reportP50 times each op separately and reports the median latency.
func reportP50(b *testing.B, op func(i int)) {
	samples := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		start := time.Now()
		op(i)
		samples = append(samples, time.Since(start))
		i++
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
}

func BenchmarkGetCacheHit(b *testing.B) {
	e := newEnv(b, newSQLiteStore, 64<<20, app.DatabaseOptions{})
	ctx := b.Context()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%04d", i)
		_, err := e.db.Put(ctx, "bench", keys[i], doc500, nil)
		require.NoError(b, err)
	}
	b.ReportAllocs()
	reportP50(b, func(i int) {
		if _, err := e.db.Get(ctx, "bench", keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
	})
	if s := e.db.CacheStats(); s.Misses != 0 {
		b.Fatalf("expected only hits, got %d misses", s.Misses)
	}
}

func BenchmarkGetMiss(b *testing.B) {
	e := newEnv(b, newSQLiteStore, 0, app.DatabaseOptions{}) // no cache: every Get reads SQLite
	ctx := b.Context()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%04d", i)
		_, err := e.db.Put(ctx, "bench", keys[i], doc500, nil)
		require.NoError(b, err)
	}
	b.ReportAllocs()
	reportP50(b, func(i int) {
		if _, err := e.db.Get(ctx, "bench", keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkPutCollection is a single-document write end to end: validation,
// clock, SQLite transaction, cache, change feed.
func BenchmarkPutCollection(b *testing.B) {
	e := newEnv(b, newSQLiteStore, 64<<20, app.DatabaseOptions{})
	c := e.db.Collection("bench")
	ctx := b.Context()
	b.ReportAllocs()
	reportP50(b, func(i int) {
		if _, err := c.Put(ctx, fmt.Sprintf("k%07d", i), doc500); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkStoreCommitBaseline is the same write straight into the store's
// Commit, the baseline BenchmarkPutCollection is compared with.
func BenchmarkStoreCommitBaseline(b *testing.B) {
	store := newSQLiteStore(b)
	clock := newClock("nodeA")
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, err := store.Commit(ctx, domain.LastWriteWins{}, ports.Write{Entry: domain.Entry{
			Collection: "bench", Key: fmt.Sprintf("k%07d", i), Data: doc500, Stamp: clock.Now()}})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

func BenchmarkBatch1000(b *testing.B) {
	e := newEnv(b, newSQLiteStore, 64<<20, app.DatabaseOptions{})
	c := e.db.Collection("bench")
	ctx := b.Context()
	b.ReportAllocs()
	round := 0
	for b.Loop() {
		batch := app.Batch{Puts: make(map[string][]byte, 1000)}
		for j := range 1000 {
			batch.Puts[fmt.Sprintf("r%05d-k%04d", round, j)] = doc500
		}
		if _, err := c.Batch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		round++
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkStoreBatch1000Baseline commits the same 1,000 writes straight
// into the store, for comparison with BenchmarkBatch1000.
func BenchmarkStoreBatch1000Baseline(b *testing.B) {
	store := newSQLiteStore(b)
	clock := newClock("nodeA")
	ctx := b.Context()
	b.ReportAllocs()
	round := 0
	for b.Loop() {
		writes := make([]ports.Write, 1000)
		for j := range writes {
			writes[j] = ports.Write{Entry: domain.Entry{Collection: "bench",
				Key: fmt.Sprintf("r%05d-k%04d", round, j), Data: doc500, Stamp: clock.Now()}}
		}
		if _, err := store.Commit(ctx, domain.LastWriteWins{}, writes...); err != nil {
			b.Fatal(err)
		}
		round++
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "docs/s")
}
