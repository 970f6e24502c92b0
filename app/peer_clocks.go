package app

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// peerClocksMeta and peerSeenMeta are the meta keys PeerClocks are kept
// under: the clocks, and when each peer was last heard from.
const (
	peerClocksMeta = "peer_clocks"
	peerSeenMeta   = "peer_clocks_seen"
)

// seenSaveEvery: a peer's last-seen time alone makes the clocks worth
// saving only this often (it bounds forgetting, in hours).
const seenSaveEvery = time.Minute

// PeerClocks remembers what each peer is known to hold: the vector clock it
// reported in our last session with it, advanced by what it accepted from
// our pushes since. The offline queue reads it (a local change is
// confirmed once some peer holds it), and so does maintenance: the known
// peers are those it lists, and what all of them hold may be compacted
// (HeldByAll). It is kept in the meta store, so a restart does not forget
// what peers confirmed. Safe for concurrent use.
type PeerClocks struct {
	meta ports.MetaStore // nil: kept in memory only
	now  func() time.Time

	mu   sync.Mutex
	held map[string]domain.VectorClock
	// seen is when each peer was last heard from (Unix ms), or first
	// noticed in the peer book; a peer forgotten (away past the retention)
	// keeps its time here so the book does not bring it back as new.
	seen  map[string]int64
	dirty bool
}

// NewPeerClocks returns clocks kept in meta (nil: in memory only).
func NewPeerClocks(meta ports.MetaStore) *PeerClocks {
	return &PeerClocks{meta: meta, now: time.Now, held: map[string]domain.VectorClock{}, seen: map[string]int64{}}
}

// SetClock replaces the clock that dates when peers were last heard from
// (the simulator's virtual time); call it before the clocks are shared.
func (p *PeerClocks) SetClock(now func() time.Time) { p.now = now }

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
	seen := map[string]int64{}
	if raw, ok, err := p.meta.GetMeta(ctx, peerSeenMeta); err != nil {
		return err
	} else if ok {
		if err := json.Unmarshal([]byte(raw), &seen); err != nil {
			return domain.Wrap(domain.CodeCorruption, op, err)
		}
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
	now := p.now().UnixMilli()
	for peer, vc := range held {
		p.mergeLocked(peer, vc)
		// Saved before the last-seen times were: heard from as of now.
		p.seen[peer] = max(p.seen[peer], now)
	}
	for peer, at := range seen {
		if _, ok := held[peer]; ok {
			p.seen[peer] = at
		} else {
			p.seen[peer] = max(p.seen[peer], at) // a forgotten peer
		}
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
	now := p.now().UnixMilli()
	if now-p.seen[peer] > seenSaveEvery.Milliseconds() {
		p.dirty = true
	}
	p.seen[peer] = now
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

// Notice adds the peers of the peer book (discovered peers, by node id)
// not heard of before: a peer we never completed a round with is known
// and holds nothing, from now until it is forgotten.
func (p *PeerClocks) Notice(peers []string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, peer := range peers {
		if _, ok := p.seen[peer]; ok || peer == "" {
			continue
		}
		p.held[peer] = domain.VectorClock{}
		p.seen[peer] = now.UnixMilli()
		p.dirty = true
	}
}

// HeldByAll forgets the peers not heard from for longer than retention
// before now (they bootstrap from a snapshot if they come back behind
// what is kept) and returns, per author, the newest stamp every remaining
// peer holds (domain.HeldByAll over own, the node's own vector clock).
func (p *PeerClocks) HeldByAll(own domain.VectorClock, now time.Time, retention time.Duration) domain.VectorClock {
	p.mu.Lock()
	defer p.mu.Unlock()
	horizon := now.Add(-retention).UnixMilli()
	var peers []domain.VectorClock
	for peer, vc := range p.held {
		if p.seen[peer] < horizon {
			delete(p.held, peer)
			p.dirty = true
			continue
		}
		peers = append(peers, vc)
	}
	return domain.HeldByAll(own, peers)
}

// Known lists the peers whose clocks count, sorted.
func (p *PeerClocks) Known() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.held))
	for peer := range p.held {
		out = append(out, peer)
	}
	slices.Sort(out)
	return out
}

// Held returns a copy of each known peer's clock and when it was last
// heard from (Unix ms): the replication matrix's rows.
func (p *PeerClocks) Held() (held map[string]domain.VectorClock, heard map[string]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	held = make(map[string]domain.VectorClock, len(p.held))
	heard = make(map[string]int64, len(p.held))
	for peer, vc := range p.held {
		held[peer] = vc.Clone()
		heard[peer] = p.seen[peer]
	}
	return held, heard
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
	seen, err := json.Marshal(p.seen)
	p.dirty = false
	p.mu.Unlock()
	raw, merr := json.Marshal(out)
	err = errors.Join(err, merr)
	if err == nil {
		err = p.meta.SetMeta(ctx, peerClocksMeta, string(raw))
	}
	if err == nil {
		err = p.meta.SetMeta(ctx, peerSeenMeta, string(seen))
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
