package app

import (
	"context"
	"math/rand/v2"

	"github.com/entgldb/entgldb-go/domain"
)

// peerTarget is a peer as the engine addresses it.
type peerTarget struct {
	addr   string
	nodeID string // "" until known
	source domain.PeerSource
}

// peers lists discovered and static peers, one per address, never ourselves.
func (e *SyncEngine) peers() []peerTarget {
	seen := map[string]bool{}
	var out []peerTarget
	if e.discovery != nil {
		for _, p := range e.discovery.Peers() {
			if p.NodeID == e.opts.NodeID || p.Address == "" || seen[p.Address] {
				continue
			}
			seen[p.Address] = true
			src := p.Source
			if src == "" {
				src = domain.PeerDiscovered
			}
			out = append(out, peerTarget{addr: p.Address, nodeID: p.NodeID, source: src})
		}
	}
	for _, a := range e.opts.StaticPeers {
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, peerTarget{addr: a, source: domain.PeerStatic})
	}
	e.mu.Lock()
	for i := range out {
		if out[i].nodeID == "" {
			out[i].nodeID = e.nodeIDs[out[i].addr]
		}
	}
	e.mu.Unlock()
	return out
}

// learnNodeID remembers which node answers at addr, so failures to reach
// it later are counted against it.
func (e *SyncEngine) learnNodeID(addr, nodeID string) {
	if nodeID == "" {
		return
	}
	e.mu.Lock()
	e.nodeIDs[addr] = nodeID
	e.mu.Unlock()
}

// pick chooses up to n peers at random (n <= 0: all), skipping those whose
// circuit breaker is open.
func (e *SyncEngine) pick(n int) []peerTarget {
	all := e.peers()
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	out := all[:0]
	for _, t := range all {
		if n > 0 && len(out) == n {
			break
		}
		if !e.exec.BreakerOpen(t.addr) {
			out = append(out, t)
		}
	}
	return out
}

// acquire takes the peer's session slot: one session per peer at a time.
func (e *SyncEngine) acquire(ctx context.Context, addr string) (func(), error) {
	e.mu.Lock()
	sem, ok := e.peerSems[addr]
	if !ok {
		sem = make(chan struct{}, 1)
		e.peerSems[addr] = sem
	}
	e.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, domain.Wrap(domain.CodeTimeout, "sync.acquire", ctx.Err())
	}
}
