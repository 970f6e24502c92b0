package sim

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/entgldb/entgldb-go/adapters/memnet"
	"github.com/entgldb/entgldb-go/domain"
)

// ScaleResult is how a mesh converged by anti-entropy alone.
type ScaleResult struct {
	Nodes, Fanout int
	// Rounds until every replica held the same state; 0 when it did not
	// within the bound.
	Rounds int
	Took   time.Duration
}

func (r ScaleResult) String() string {
	return fmt.Sprintf("%d nodes, fanout %d: converged in %d rounds (%s)", r.Nodes, r.Fanout, r.Rounds, r.Took.Round(time.Millisecond))
}

// Scale measures convergence against the number of nodes: each node writes
// one document, then in every round each node syncs with fanout peers
// picked at random from the seed, as the engine's loop does every
// Interval; no gossip, no faults. Nodes take their turn one after another
// within a round, so a round may carry an entry further than rounds run in
// parallel would: the count is a lower bound.
func Scale(seed uint64, nodes, fanout, maxRounds int) (ScaleResult, error) {
	o := Options{Seed: seed, Nodes: nodes, BatchSize: domain.DefaultSyncBatchSize, MaxDriftMs: 60_000,
		OplogRetentionMs: 1 << 40, TombstoneRetentionMs: 1 << 40}
	s := &Sim{opts: o, ctx: context.Background(), now: epochMs, net: memnet.New(), model: newModel(), trace: sha256.New()}
	res := ScaleResult{Nodes: nodes, Fanout: fanout}
	for i := range nodes {
		s.nodes = append(s.nodes, newNode(i))
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
		for _, a := range s.nodes {
			for _, k := range r.Perm(nodes - 1)[:min(fanout, nodes-1)] {
				s.round(a, s.nodes[(a.index+1+k)%nodes], 0, false)
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
