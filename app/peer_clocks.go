package app

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// peerClocksMeta is the meta key PeerClocks are kept under.
const peerClocksMeta = "peer_clocks"

// PeerClocks remembers what each peer is known to hold: the vector clock it
// reported in our last session with it, advanced by what it accepted from
// our pushes since. The offline queue reads it (a local change is
// confirmed once some peer holds it). It is kept in the meta store, so a
// restart does not forget what peers confirmed. Safe for concurrent use.
type PeerClocks struct {
	meta ports.MetaStore // nil: kept in memory only

	mu    sync.Mutex
	held  map[string]domain.VectorClock
	dirty bool
}

// NewPeerClocks returns clocks kept in meta (nil: in memory only).
func NewPeerClocks(meta ports.MetaStore) *PeerClocks {
	return &PeerClocks{meta: meta, held: map[string]domain.VectorClock{}}
}

// Load reads what an earlier run saved.
func (p *PeerClocks) Load(ctx context.Context) error {
	const op = "app.PeerClocks.Load"
	if p.meta == nil {
		return nil
	}
	raw, ok, err := p.meta.GetMeta(ctx, peerClocksMeta)
	if err != nil || !ok {
		return err
	}
	var saved map[string]map[string]string
	if err := json.Unmarshal([]byte(raw), &saved); err != nil {
		return domain.Wrap(domain.CodeCorruption, op, err)
	}
	held := make(map[string]domain.VectorClock, len(saved))
	for peer, vc := range saved {
		held[peer] = domain.VectorClock{}
		for _, s := range vc {
			ts, err := domain.ParseTimestamp(s)
			if err != nil {
				return domain.Wrap(domain.CodeCorruption, op, err)
			}
			held[peer].Observe(ts)
		}
	}
	p.mu.Lock()
	for peer, vc := range held {
		p.mergeLocked(peer, vc)
	}
	p.mu.Unlock()
	return nil
}

// Observe records that peer holds everything up to vc.
func (p *PeerClocks) Observe(peer string, vc domain.VectorClock) {
	if peer == "" {
		return
	}
	p.mu.Lock()
	p.mergeLocked(peer, vc)
	p.mu.Unlock()
}

// Accepted records that peer applied entries (pushed in chain order, so
// it now holds each author's chain up to its newest one among them).
func (p *PeerClocks) Accepted(peer string, entries []domain.Entry) {
	if peer == "" || len(entries) == 0 {
		return
	}
	vc := domain.VectorClock{}
	for i := range entries {
		vc.Observe(entries[i].Stamp)
	}
	p.Observe(peer, vc)
}

func (p *PeerClocks) mergeLocked(peer string, vc domain.VectorClock) {
	cur := p.held[peer]
	if cur == nil {
		cur = domain.VectorClock{}
		p.held[peer] = cur
	}
	for _, ts := range vc {
		if ts.After(cur[ts.Node]) {
			cur[ts.Node] = ts
			p.dirty = true
		}
	}
}

// Confirmed is the newest stamp of author that some peer holds (zero: none).
func (p *PeerClocks) Confirmed(author string) domain.Timestamp {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best domain.Timestamp
	for _, vc := range p.held {
		if ts := vc[author]; ts.After(best) {
			best = ts
		}
	}
	return best
}

// Save writes the clocks when they changed since the last Save.
func (p *PeerClocks) Save(ctx context.Context) error {
	if p.meta == nil {
		return nil
	}
	p.mu.Lock()
	if !p.dirty {
		p.mu.Unlock()
		return nil
	}
	out := make(map[string]map[string]string, len(p.held))
	for peer, vc := range p.held {
		m := make(map[string]string, len(vc))
		for author, ts := range vc {
			m[author] = ts.String()
		}
		out[peer] = m
	}
	p.dirty = false
	p.mu.Unlock()
	raw, err := json.Marshal(out)
	if err == nil {
		err = p.meta.SetMeta(ctx, peerClocksMeta, string(raw))
	}
	if err != nil {
		p.mu.Lock()
		p.dirty = true // try again next time
		p.mu.Unlock()
		return domain.Wrap(domain.CodePersistence, "app.PeerClocks.Save", err)
	}
	return nil
}

// confirming wraps s so that what the peer says it holds (its vector
// clock) and what it accepts from our pushes reach e.clocks.
func (e *SyncEngine) confirming(s ports.PeerSession) ports.PeerSession {
	return &confirmingSession{PeerSession: s, clocks: e.clocks}
}

type confirmingSession struct {
	ports.PeerSession
	clocks *PeerClocks
}

func (c *confirmingSession) GetVectorClock(ctx context.Context) (domain.VectorClock, error) {
	vc, err := c.PeerSession.GetVectorClock(ctx)
	if err == nil {
		c.clocks.Observe(c.PeerID(), vc)
	}
	return vc, err
}

// PushChanges counts a push as held only when the peer took all of it: a
// peer that could not link it (snapshot required) or refused some of it
// holds less.
func (c *confirmingSession) PushChanges(ctx context.Context, entries []domain.Entry) (bool, error) {
	snapReq, err := c.PeerSession.PushChanges(ctx, entries)
	if err == nil && !snapReq {
		c.clocks.Accepted(c.PeerID(), entries)
	}
	return snapReq, err
}
