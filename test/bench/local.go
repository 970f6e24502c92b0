package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
)

const (
	putCollection  = "put"
	docsCollection = "docs"
	batchSize      = 1000
)

func docKey(i int) string { return fmt.Sprintf("d%08d", i) }

// benchPut commits n single-document Puts through the app layer, one after
// the other, each acknowledged (durable in SQLite) before the next.
func benchPut(ctx context.Context, db *app.Database, round, n int) (docsPerSec float64, lat latencies, err error) {
	rnd := rand.New(rand.NewPCG(5, uint64(round)))
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = docBody(i, rnd)
	}
	c := db.Collection(putCollection)
	lat = make(latencies, 0, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := c.Put(ctx, fmt.Sprintf("p%d-%08d", round, i), bodies[i]); err != nil {
			return 0, nil, fmt.Errorf("put %d: %w", i, err)
		}
		lat = append(lat, time.Since(t0))
	}
	return rate(n, time.Since(start)), lat, nil
}

// benchBatch writes docs documents in all-or-nothing Batches of batchSize.
func benchBatch(ctx context.Context, db *app.Database, docs int) (float64, error) {
	rnd := rand.New(rand.NewPCG(7, 8))
	c := db.Collection(docsCollection)
	var elapsed time.Duration
	for lo := 0; lo < docs; lo += batchSize {
		b := app.Batch{Puts: make(map[string][]byte, batchSize)}
		for i := lo; i < min(lo+batchSize, docs); i++ {
			b.Puts[docKey(i)] = docBody(i, rnd)
		}
		t0 := time.Now() // building the map is the caller's work, not the database's
		if _, err := c.Batch(ctx, b); err != nil {
			return 0, fmt.Errorf("batch at %d: %w", lo, err)
		}
		elapsed += time.Since(t0)
	}
	return rate(docs, elapsed), nil
}

// benchGets reads n distinct random keys twice on a node opened with a cold
// cache: the first pass misses the cache (SQLite), the second hits it.
func benchGets(ctx context.Context, db *app.Database, docs, n int) (miss, hit latencies, err error) {
	rnd := rand.New(rand.NewPCG(9, 10))
	keys := make([]string, 0, n)
	for _, i := range rnd.Perm(docs)[:min(n, docs)] {
		keys = append(keys, docKey(i))
	}
	c := db.Collection(docsCollection)
	before := db.CacheStats()
	for pass := 0; pass < 2; pass++ {
		for _, k := range keys {
			t0 := time.Now()
			d, err := c.Get(ctx, k)
			el := time.Since(t0)
			if err != nil {
				return nil, nil, fmt.Errorf("get %s: %w", k, err)
			}
			if len(d.Data) == 0 {
				return nil, nil, fmt.Errorf("get %s: empty document", k)
			}
			if pass == 0 {
				miss = append(miss, el)
			} else {
				hit = append(hit, el)
			}
		}
	}
	after := db.CacheStats()
	// Honesty check: the passes really were misses then hits.
	if got := after.Misses - before.Misses; got < int64(len(keys)) {
		return nil, nil, fmt.Errorf("get: expected %d cache misses in the first pass, the cache counted %d", len(keys), got)
	}
	if got := after.Hits - before.Hits; got < int64(len(keys)) {
		return nil, nil, fmt.Errorf("get: expected %d cache hits in the second pass, the cache counted %d", len(keys), got)
	}
	return miss, hit, nil
}

// timeFinds times n queries, query(i) the i-th, and checks each result
// (nil: acceptable).
func timeFinds(ctx context.Context, db *app.Database, n int, query func(i int) domain.Query, check func(i int, res []domain.Document) error) (latencies, error) {
	c := db.Collection(docsCollection)
	lat := make(latencies, 0, n)
	for i := 0; i < n; i++ {
		q := query(i)
		t0 := time.Now()
		res, err := c.Find(ctx, q)
		el := time.Since(t0)
		if err != nil {
			return nil, err
		}
		if err := check(i, res); err != nil {
			return nil, err
		}
		lat = append(lat, el)
	}
	return lat, nil
}

// benchFind runs n indexed equality queries (1 of 1,000 categories, so
// ~docs/1000 results each) and checks the result sizes.
func benchFind(ctx context.Context, db *app.Database, docs, n int) (latencies, error) {
	want := docs / 1000
	return timeFinds(ctx, db, n, func(i int) domain.Query {
		return domain.Query{Filter: domain.Cmp{Op: domain.OpEq, Path: "cat", Value: fmt.Sprintf("c%03d", (i*37)%1000)}}
	}, func(i int, res []domain.Document) error {
		if len(res) < want || len(res) > want+1 {
			return fmt.Errorf("find cat=c%03d: %d results, want ~%d", (i*37)%1000, len(res), want)
		}
		return nil
	})
}

// benchIn1000 runs n queries of $in with 1,000 values on the indexed
// category field: one category present (~docs/1000 hits) and 999 absent,
// so the index must do the work, not the result size.
func benchIn1000(ctx context.Context, db *app.Database, docs, n int) (latencies, error) {
	want := docs / 1000
	return timeFinds(ctx, db, n, func(i int) domain.Query {
		vals := make([]any, 1000)
		for j := range vals {
			vals[j] = fmt.Sprintf("x%03d", j)
		}
		vals[i%1000] = fmt.Sprintf("c%03d", (i*37)%1000)
		return domain.Query{Filter: domain.In{Path: "cat", Values: vals}}
	}, func(i int, res []domain.Document) error {
		if len(res) < want || len(res) > want+1 {
			return fmt.Errorf("find $in with c%03d: %d results, want ~%d", (i*37)%1000, len(res), want)
		}
		return nil
	})
}

// benchElemMatch runs n $elemMatch queries over the documents' arrays of
// objects (no index helps: each reads the whole collection).
func benchElemMatch(ctx context.Context, db *app.Database, docs, n int) (latencies, error) {
	return timeFinds(ctx, db, n, func(i int) domain.Query {
		return domain.Query{Filter: domain.ElemMatch{Path: "items", Filter: domain.And{Filters: []domain.Filter{
			domain.Cmp{Op: domain.OpEq, Path: "k", Value: (i * 13) % 1000},
			domain.Cmp{Op: domain.OpGte, Path: "q", Value: 5},
		}}}}
	}, func(i int, res []domain.Document) error {
		if len(res) == 0 || len(res) > docs/1000+1 {
			return fmt.Errorf("find $elemMatch k=%d: %d results", (i*13)%1000, len(res))
		}
		return nil
	})
}
