package synctest_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/test/synctest"
)

// benchDocs is the data size of the bootstrap and no-op benchmarks
// (ENTGLDB_BENCH_DOCS overrides it; the figure is 100,000).
func benchDocs() int {
	if v, err := strconv.Atoi(os.Getenv("ENTGLDB_BENCH_DOCS")); err == nil && v > 0 {
		return v
	}
	return 100_000
}

// seed fills a node with n documents of about 500 bytes, as remote entries
// of one author applied in batches (the fast path).
func seed(b *testing.B, node *synctest.Node, n int) {
	b.Helper()
	ctx := context.Background()
	pad := fmt.Sprintf("%0440d", 0)
	now := time.Now().UnixMilli() - int64(n) // old enough, never ahead of any clock
	prev := ""
	const batch = 1000
	for start := 0; start < n; start += batch {
		es := make([]domain.Entry, 0, batch)
		for i := start; i < min(n, start+batch); i++ {
			e := domain.Entry{Collection: "docs", Key: fmt.Sprintf("doc-%06d", i), Op: domain.OpPut,
				Data:  []byte(fmt.Sprintf(`{"i":%d,"name":"document %d","pad":"%s"}`, i, i, pad)),
				Stamp: domain.Timestamp{Wall: now + int64(i), Node: "author"}}
			e.Seal(prev)
			prev = e.Hash
			es = append(es, e)
		}
		_, err := node.DB.ApplyRemote(ctx, es)
		require.NoError(b, err)
	}
}

// BenchmarkBootstrap: a new node pulls every document from a peer over
// loopback, secure mode with Brotli. Reports documents per second.
func BenchmarkBootstrap(b *testing.B) {
	n := benchDocs()
	c := synctest.Start(b, 1, synctest.Options{Secure: true, Compression: true})
	// The seed applies the same documents locally in 1,000-entry batches:
	// the storage ceiling a bootstrap can approach.
	seedStart := time.Now()
	seed(b, c.Nodes[0], n)
	applyRate := float64(n) / time.Since(seedStart).Seconds()
	b.ResetTimer()
	var elapsed time.Duration
	for i := range b.N {
		b.StopTimer()
		fresh := c.AddNode(fmt.Sprintf("fresh%d", i), synctest.Options{Secure: true, Compression: true},
			[]string{c.Nodes[0].Addr})
		b.StartTimer()
		start := time.Now()
		require.NoError(b, fresh.Engine.SyncNow(context.Background()))
		elapsed += time.Since(start)
		b.StopTimer()
		cnt, err := fresh.DB.Count(context.Background(), "docs", nil)
		require.NoError(b, err)
		require.Equal(b, n, cnt)
		b.StartTimer()
	}
	rate := float64(n*b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "docs/s")
	b.ReportMetric(applyRate, "apply-docs/s")
	b.ReportMetric(rate/applyRate, "ratio")
}

// BenchmarkNoopRound: a round with a peer already in sync, both holding
// the benchmark's documents. It must cost O(1) in the data size.
func BenchmarkNoopRound(b *testing.B) {
	n := benchDocs()
	c := synctest.Start(b, 2, synctest.Options{})
	seed(b, c.Nodes[0], n)
	ctx := context.Background()
	require.NoError(b, c.Nodes[1].Engine.SyncNow(ctx))
	require.NoError(b, c.Nodes[1].Engine.SyncNow(ctx)) // warm the session pool
	before := c.Nodes[1].Engine.Stats()
	b.ResetTimer()
	for range b.N {
		require.NoError(b, c.Nodes[1].Engine.SyncNow(ctx))
	}
	b.StopTimer()
	after := c.Nodes[1].Engine.Stats()
	require.Equal(b, before.BytesIn, after.BytesIn, "a no-op round moved entries")
	require.Equal(b, before.EntriesPushed, after.EntriesPushed)
}

// BenchmarkConvergence: in a 10-node loopback mesh with gossip, the time
// from a commit on one node until all 10 have it. Reports p50 and p99.
func BenchmarkConvergence(b *testing.B) {
	c := synctest.Start(b, 10, synctest.Options{Run: true, Interval: time.Second, Fanout: 3})
	ctx := context.Background()
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		writer := c.Nodes[i%len(c.Nodes)]
		key := fmt.Sprintf("k%d", i)
		start := time.Now()
		ts, err := writer.DB.Put(ctx, "c", key, []byte(`{"v":1}`), nil)
		require.NoError(b, err)
		for _, n := range c.Nodes {
			for {
				d, err := n.DB.Get(ctx, "c", key)
				if err == nil && d.Stamp == ts {
					break
				}
				if time.Since(start) > 10*time.Second {
					b.Fatalf("%s never got %s", n.ID, key)
				}
				time.Sleep(time.Millisecond)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
