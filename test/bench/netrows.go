package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/retry"
	"github.com/entgldb/entgldb-go/adapters/tcp"
	"github.com/entgldb/entgldb-go/app"
)

// roundDriver is a second sync engine over a node's own database and store,
// never started: the benchmark calls SyncNow on it to time exactly one
// bootstrap or one in-sync round, with the node's own engine idle (no
// static peers, discovery off), so nothing else syncs meanwhile.
type roundDriver struct {
	engine *app.SyncEngine
	dialer *tcp.Dialer
}

func newRoundDriver(n *entgldb.DB, cfg config.Config, peer string) (*roundDriver, error) {
	db := database(n)
	trust, err := nodeTrust(n, cfg)
	if err != nil {
		return nil, err
	}
	exec := retry.New(retry.Options{RetryAttempts: 1, AttemptTimeout: 2 * time.Minute}, nil)
	d := tcp.NewDialer(tcp.DialerOptions{
		Trust:          trust,
		Secure:         cfg.Network.Secure,
		Compression:    cfg.Network.Compression,
		ConnectTimeout: 5 * time.Second,
		MaxFrameBytes:  cfg.Network.MaxFrameBytes,
	}, exec, nil)
	// No outbox: this engine only runs the rounds it is asked for.
	e, err := app.NewSyncEngine(app.SyncEngineDeps{Database: db, Store: db.Store(), Dialer: d, Executor: exec,
		Clock: db.Clock()}, app.EngineOptions{
		NodeID:      n.ID(),
		Interval:    time.Hour,
		BatchSize:   cfg.Sync.BatchSize,
		StaticPeers: []string{peer},
		Identity:    trust.Identity.Private, // the node's own: it signs what the node authors
	})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("round driver: %w", err)
	}
	return &roundDriver{engine: e, dialer: d}, nil
}

func (r *roundDriver) close() { _ = r.dialer.Close() }

// countAll is the number of live documents of the given collections.
func countAll(ctx context.Context, db *app.Database, collections ...string) (int, error) {
	total := 0
	for _, c := range collections {
		n, err := db.Count(ctx, c, nil)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", c, err)
		}
		total += n
	}
	return total, nil
}

// benchBootstrap pulls every document of src into the empty node dst
// through rounds of dst's driver; it returns docs/s and the duration.
func benchBootstrap(ctx context.Context, dst *roundDriver, dstDB *app.Database, want int) (float64, time.Duration, error) {
	start := time.Now()
	for round := 0; round < 50; round++ { // one round should do; bounded anyway
		if err := dst.engine.SyncNow(ctx); err != nil {
			return 0, 0, fmt.Errorf("bootstrap round %d: %w", round, err)
		}
		got, err := countAll(ctx, dstDB, putCollection, docsCollection)
		if err != nil {
			return 0, 0, err
		}
		if got >= want {
			el := time.Since(start)
			return rate(want, el), el, nil
		}
	}
	return 0, 0, errors.New("bootstrap: documents still missing after 50 rounds")
}

// benchNoop times rounds between two nodes already in sync.
func benchNoop(ctx context.Context, d *roundDriver, n int) (latencies, error) {
	var lat latencies
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := d.engine.SyncNow(ctx); err != nil {
			return nil, fmt.Errorf("no-op round: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, nil
}

// benchConverge starts n in-process nodes in a full mesh and measures, for
// each of writes sequential Puts on a rotating node, the time from the Put
// being called to the last other node applying it (seen on its
// change feed).
func benchConverge(ctx context.Context, root string, n, writes int) (latencies, error) {
	cfgs := make([]config.Config, n)
	for i := range cfgs {
		cfg, err := nodeConfig(fmt.Sprintf("%s/mesh-%02d", root, i), fmt.Sprintf("mesh-%02d", i), nil)
		if err != nil {
			return nil, err
		}
		cfgs[i] = cfg
	}
	for i := range cfgs {
		for j := range cfgs {
			if i != j {
				cfgs[i].Network.StaticPeers = append(cfgs[i].Network.StaticPeers, peerAddr(cfgs[j]))
			}
		}
	}
	nodes := make([]*entgldb.DB, 0, n)
	defer func() {
		for _, nd := range nodes {
			_ = stopNode(nd)
		}
	}()
	for _, cfg := range cfgs {
		nd, err := openNode(ctx, cfg)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, nd)
	}

	// arrivals[key] counts nodes (other than the writer) that applied key;
	// done[key] is closed when all have.
	type pending struct {
		left int
		at   time.Time
		done chan struct{}
	}
	var mu sync.Mutex
	waiting := map[string]*pending{}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, nd := range nodes {
		sub, err := database(nd).Watch(wctx, -1)
		if err != nil {
			return nil, fmt.Errorf("watch: %w", err)
		}
		wg.Go(func() {
			defer sub.Close()
			for ch := range sub.C() {
				if !ch.Remote || ch.Collection != "mesh" {
					continue
				}
				now := time.Now()
				mu.Lock()
				if p := waiting[ch.Key]; p != nil && p.left > 0 {
					p.left--
					if p.left == 0 {
						p.at = now
						close(p.done)
					}
				}
				mu.Unlock()
			}
		})
	}

	var lat latencies
	body := []byte(`{"v":1,"text":"converge"}`)
	for w := 0; w < writes; w++ {
		key := fmt.Sprintf("k%04d", w)
		p := &pending{left: n - 1, done: make(chan struct{})}
		mu.Lock()
		waiting[key] = p
		mu.Unlock()
		// From before the commit, so the figure includes the local commit.
		t0 := time.Now()
		if _, err := nodes[w%n].Collection("mesh").Put(ctx, key, body); err != nil {
			return nil, fmt.Errorf("converge put: %w", err)
		}
		select {
		case <-p.done:
			mu.Lock()
			lat = append(lat, p.at.Sub(t0))
			mu.Unlock()
		case <-time.After(10 * time.Second):
			mu.Lock()
			left := p.left
			mu.Unlock()
			return nil, fmt.Errorf("converge: write %d not on %d of %d nodes after 10 s", w, left, n-1)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return lat, nil
}

// nodeTrust is the trust of node n's own identity (its key file), so the
// peers that already know n accept the round driver's sessions as n's.
func nodeTrust(n *entgldb.DB, cfg config.Config) (tcp.Trust, error) {
	key, _, err := protocol.LoadOrCreateIdentityKey(cfg.IdentityKeyPath())
	if err != nil {
		return tcp.Trust{}, err
	}
	return tcp.Trust{PSK: protocol.DerivePSK([]byte(cfg.AuthToken)),
		Identity: protocol.Identity{NodeID: n.ID(), Private: key}, LegacyToken: cfg.AuthToken}, nil
}
