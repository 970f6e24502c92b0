package sim

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/entgldb/entgldb-go/adapters/memnet"
	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
)

// ScaleResult is how a mesh converged by anti-entropy alone.
type ScaleResult struct {
	Nodes, Fanout int
	Parallel      bool
	// Rounds until every replica held the same state; 0 when it did not
	// within the bound.
	Rounds int
	Took   time.Duration
}

func (r ScaleResult) String() string {
	mode := "sequential turns"
	if r.Parallel {
		mode = "parallel rounds"
	}
	return fmt.Sprintf("%d nodes, fanout %d, %s: converged in %d rounds (%s)", r.Nodes, r.Fanout, mode, r.Rounds,
		r.Took.Round(time.Millisecond))
}

// Scale measures convergence against the number of nodes: each node writes
// one document, then in every round each node syncs with fanout peers
// picked at random from the seed, as the engine's loop does every
// Interval; no gossip, no faults. With parallel false, nodes take their
// turns one after another within a round, so a round may carry an entry
// several hops: a lower bound. With parallel true, every exchange of a
// round sees the state the nodes had when the round began, as rounds
// running at once on every node would: each node pulls from a frozen copy
// of each peer it picked, and each picked peer from a frozen copy of it
// (the push of a push-pull round).
func Scale(seed uint64, nodes, fanout, maxRounds int, parallel bool) (ScaleResult, error) {
	o := Options{Seed: seed, Nodes: nodes, BatchSize: domain.DefaultSyncBatchSize, MaxDriftMs: 60_000,
		OplogRetentionMs: 1 << 40, TombstoneRetentionMs: 1 << 40}
	s := &Sim{opts: o, ctx: context.Background(), now: epochMs, net: memnet.New(), model: newModel(), trace: sha256.New(),
		media: &media{kind: StoreMemory}}
	res := ScaleResult{Nodes: nodes, Fanout: fanout, Parallel: parallel}
	for i := range nodes {
		n, err := s.newNode(i)
		if err != nil {
			return res, err
		}
		s.nodes = append(s.nodes, n)
	}
	for _, n := range s.nodes {
		if err := n.pinKeys(s.ctx, s.nodes); err != nil {
			return res, err
		}
		if err := n.start(s); err != nil {
			return res, err
		}
		if _, err := n.db.Put(s.ctx, collection, n.id, []byte(`{"by":"`+n.id+`"}`), nil); err != nil {
			return res, err
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x5ca1e))
	start := time.Now()
	for round := 1; round <= maxRounds; round++ {
		s.now += domain.DefaultSyncInterval.Milliseconds()
		var frozen *memnet.Network
		if parallel {
			var err error
			if frozen, err = s.freeze(); err != nil {
				return res, err
			}
		}
		for _, a := range s.nodes {
			for _, k := range r.Perm(nodes - 1)[:min(fanout, nodes-1)] {
				b := s.nodes[(a.index+1+k)%nodes]
				if !parallel {
					s.round(a, b, 0, false)
					continue
				}
				a.dialer.inner, b.dialer.inner = frozen.Dialer(a.id), frozen.Dialer(b.id)
				s.round(a, b, 0, false)
				s.round(b, a, 0, false)
				a.dialer.inner, b.dialer.inner = s.net.Dialer(a.id), s.net.Dialer(b.id)
			}
		}
		if ok, _ := s.converged(); ok {
			res.Rounds = round
			break
		}
	}
	res.Took = time.Since(start)
	return res, nil
}

// freeze returns a network on which every node's address answers from a
// copy of its store as it is now (what a parallel round's exchanges see).
func (s *Sim) freeze() (*memnet.Network, error) {
	net := memnet.New()
	for _, n := range s.nodes {
		// Scale runs in memory (Scale builds its media so).
		copied := n.disk.backend.(*memory.Store).Clone()
		clock := domain.NewClock(n.id, func() int64 { return s.now }, s.opts.MaxDriftMs)
		db, err := app.NewDatabase(copied, nil, clock, nil, app.DatabaseOptions{})
		if err != nil {
			return nil, err
		}
		svc, err := app.NewSyncService(db, copied, clock, nil, nil, app.SyncOptions{BatchSize: s.opts.BatchSize, Identity: n.key})
		if err != nil {
			return nil, err
		}
		net.Listen(n.addr, n.id, svc)
	}
	return net, nil
}
