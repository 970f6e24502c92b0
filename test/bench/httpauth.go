package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/adapters/httpapi"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
)

// httpAuthResult is the same-run A/B of single Puts over HTTP with and
// without the API key check.
type httpAuthResult struct {
	withKey, without    float64 // docs/s, median of the rounds
	withLat, withoutLat latencies
}

// httpDocuments serves the node's database to the API as the node's own
// wiring does (providers.go).
type httpDocuments struct{ *app.Database }

func (d httpDocuments) Batch(ctx context.Context, collection string, puts map[string][]byte, deletes []string) (map[string]domain.Timestamp, error) {
	return d.Database.Batch(ctx, collection, app.Batch{Puts: puts, Deletes: deletes})
}

// benchHTTPAuth times n single Puts over loopback HTTP (keep-alive, one
// client, each acknowledged before the next) against two API servers over
// the same database that differ only in the key check, alternating three
// rounds each so both see the same machine load.
func benchHTTPAuth(ctx context.Context, root string, n int) (httpAuthResult, error) {
	var r httpAuthResult
	node, cfg, err := openLoopbackNode(ctx, filepath.Join(root, "http-node"), "bench-http")
	if err != nil {
		return r, err
	}
	defer stopNode(node)
	dir := filepath.Dir(cfg.Persistence.DatabasePath)
	store, _, err := apikeys.Open(filepath.Join(dir, "api-keys.json"), filepath.Join(dir, "admin.key"))
	if err != nil {
		return r, err
	}
	_, key, err := store.Create("bench", []string{putCollection + ":rw"})
	if err != nil {
		return r, err
	}
	docs := httpDocuments{database(node)}
	withKey, err := startAPI(ctx, httpapi.Options{Documents: docs, Keys: store})
	if err != nil {
		return r, err
	}
	defer stopAPI(withKey)
	without, err := startAPI(ctx, httpapi.Options{Documents: docs})
	if err != nil {
		return r, err
	}
	defer stopAPI(without)

	type side struct {
		name   string
		prefix string // of the document keys, distinct per side
		client *client.Client
		rates  []float64
		lat    *latencies
	}
	keyed := &side{"with key", "k", client.New(withKey.Addr(), client.WithKey(key)), nil, &r.withLat}
	open := &side{"without key", "o", client.New(without.Addr()), nil, &r.withoutLat}
	// A warm-up round each, then three each, the side going first
	// alternating: the database grows and checkpoints as it goes, and
	// neither side should always meet that first.
	for round := -1; round < 3; round++ {
		order := []*side{keyed, open}
		if round%2 != 0 {
			order = []*side{open, keyed}
		}
		for _, sd := range order {
			rate, lat, err := httpPuts(ctx, sd.client, sd.prefix, round, n)
			if err != nil {
				return r, fmt.Errorf("%s: %w", sd.name, err)
			}
			if round >= 0 {
				sd.rates, *sd.lat = append(sd.rates, rate), append(*sd.lat, lat...)
			}
		}
	}
	withRates, withoutRates := keyed.rates, open.rates
	r.withKey, r.without = median(withRates), median(withoutRates)
	return r, nil
}

func httpPuts(ctx context.Context, c *client.Client, side string, round, n int) (float64, latencies, error) {
	rnd := rand.New(rand.NewPCG(11, uint64(round)))
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = docBody(i, rnd)
	}
	lat := make(latencies, 0, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := c.Put(ctx, putCollection, fmt.Sprintf("h%s%d-%08d", side, round, i), bodies[i]); err != nil {
			return 0, nil, fmt.Errorf("put %d: %w", i, err)
		}
		lat = append(lat, time.Since(t0))
	}
	return rate(n, time.Since(start)), lat, nil
}

func startAPI(ctx context.Context, opts httpapi.Options) (*httpapi.Server, error) {
	s := httpapi.NewServer("127.0.0.1:0", httpapi.New(opts), nil)
	return s, s.Start(ctx)
}

func stopAPI(s *httpapi.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Stop(ctx)
}

// row reports the cost at the median latency: the key check is a fixed
// cost per request, and the tails (fsync, checkpoints, the shared machine)
// would drown it in the rates.
func (r httpAuthResult) row(n int) result {
	with, without := r.withLat.pct(50), r.withoutLat.pct(50)
	cost := "n/a"
	if with > 0 && without > 0 {
		cost = fmt.Sprintf("%+.1f %%", (float64(with)/float64(without)-1)*100)
	}
	return result{"put-http", fmt.Sprintf("single acknowledged Put over loopback HTTP with the API key check, 3 × %d docs", n),
		fmt.Sprintf("p50 %s · p99 %s (%.0f docs/s)", fmtDur(with), fmtDur(r.withLat.pct(99)), r.withKey),
		fmt.Sprintf("same run without the key check: p50 %s · p99 %s (%.0f docs/s); auth cost at p50 %s (target ≤ 10 %%)",
			fmtDur(without), fmtDur(r.withoutLat.pct(99)), r.without, cost)}
}
