// Package memory implements the storage ports entirely in memory: for tests
// and ephemeral nodes. It passes the same contract suite (ports/porttest) as
// the SQLite adapter, so either can stand in for the other.
//
// One RWMutex guards everything; a write stages its changes in a tx overlay
// and publishes them only when every write of the batch succeeded, which
// gives the all-or-nothing behaviour of a database transaction.
package memory

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Store is an in-memory ports.Store, also a ports.Pruner and a
// ports.Snapshotter. It is safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	closed bool
	// now is the clock expiry is judged by (SetClock; time.Now).
	now func() time.Time

	// docs: collection -> key -> visible state (tombstones included).
	docs map[string]map[string]domain.Document
	// log holds the oplog in Seq order; the maps index into it and are
	// rebuilt when Prune removes entries.
	log    []domain.Entry
	ids    map[entryID]struct{}
	byHash map[string]int
	perKey map[docKey][]int
	seq    int64
	vclock domain.VectorClock
	heads  map[string]string
	// boundaryLinks: hash -> link of each compacted entry whose successor
	// stays (compact.go).
	boundaryLinks map[string][]byte
	// bridges: hash -> digests of the entries compaction removed right
	// after that entry, up to the next one held (compactbridges.go).
	bridges map[string][][]byte

	meta  map[string]string
	peers map[string]domain.Peer
	// peerKeys: node id -> identity key first seen (peerkeys.go); nil until the first.
	peerKeys map[string][]byte
}

var (
	_ ports.Store       = (*Store)(nil)
	_ ports.Pruner      = (*Store)(nil)
	_ ports.Snapshotter = (*Store)(nil)
)

type docKey struct{ coll, key string }

// entryID is an entry's identity: re-delivery of the same author, stamp,
// collection and key is a no-op (the SQLite adapter's unique key).
type entryID struct {
	node    string
	wall    int64
	logical int32
	coll    string
	key     string
}

func idOf(e *domain.Entry) entryID {
	return entryID{e.Stamp.Node, e.Stamp.Wall, e.Stamp.Logical, e.Collection, e.Key}
}

// New returns an empty store.
func New() *Store {
	return &Store{
		docs:   map[string]map[string]domain.Document{},
		ids:    map[entryID]struct{}{},
		byHash: map[string]int{},
		perKey: map[docKey][]int{},
		vclock: domain.VectorClock{},
		heads:  map[string]string{},
		meta:   map[string]string{},
		peers:  map[string]domain.Peer{},
		now:    time.Now,
	}
}

// SetClock replaces the clock that decides whether a document has expired
// (tests); call it before the store is shared.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// visible reports whether d is a live document now: not deleted, not expired.
func (s *Store) visible(d *domain.Document) bool {
	return !d.Deleted && !domain.Expired(d.ExpiresAt, s.now().UnixMilli())
}

// Close releases nothing but makes every later call fail, as a closed
// database would.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Ping implements ports.Pinger.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.check(ctx, "memory.Ping")
}

// check fails calls on a closed store or with a finished context. Callers
// hold the lock.
func (s *Store) check(ctx context.Context, op string) error {
	if s.closed {
		return domain.Errorf(domain.CodePersistence, op, "store is closed")
	}
	if err := ctx.Err(); err != nil {
		return domain.Wrap(domain.CodeTimeout, op, err)
	}
	return nil
}

// GetMeta implements ports.MetaStore.
func (s *Store) GetMeta(ctx context.Context, key string) (string, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.GetMeta"); err != nil {
		return "", false, err
	}
	v, ok := s.meta[key]
	return v, ok, nil
}

// SetMeta implements ports.MetaStore.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "memory.SetMeta"); err != nil {
		return err
	}
	s.meta[key] = value
	return nil
}

// SavePeer implements ports.PeerStore: it replaces a peer with the same id.
func (s *Store) SavePeer(ctx context.Context, p domain.Peer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "memory.SavePeer"); err != nil {
		return err
	}
	s.peers[p.NodeID] = clonePeer(p)
	return nil
}

// Peers implements ports.PeerStore, sorted by node id.
func (s *Store) Peers(ctx context.Context) ([]domain.Peer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.Peers"); err != nil {
		return nil, err
	}
	out := make([]domain.Peer, 0, len(s.peers))
	for _, p := range s.peers {
		out = append(out, clonePeer(p))
	}
	slices.SortFunc(out, func(a, b domain.Peer) int { return strings.Compare(a.NodeID, b.NodeID) })
	return out, nil
}

// RemovePeer implements ports.PeerStore; an unknown id is not an error.
func (s *Store) RemovePeer(ctx context.Context, nodeID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "memory.RemovePeer"); err != nil {
		return err
	}
	delete(s.peers, nodeID)
	return nil
}

// The store never shares a byte slice with its callers: they may reuse
// their buffers, and we may not see them change.

func cloneEntry(e domain.Entry) domain.Entry {
	e.Data = bytes.Clone(e.Data)
	e.Link = bytes.Clone(e.Link)
	e.Proof = cloneProof(e.Proof)
	return e
}

// cloneProof copies p; a stored proof has no LinkBefore.
func cloneProof(p *domain.AuthorProof) *domain.AuthorProof {
	if p == nil {
		return nil
	}
	c := &domain.AuthorProof{
		PublicKey:  bytes.Clone(p.PublicKey),
		LinkBefore: bytes.Clone(p.LinkBefore),
		Signature:  bytes.Clone(p.Signature),
	}
	for _, d := range p.Tail {
		c.Tail = append(c.Tail, bytes.Clone(d))
	}
	return c
}

func cloneDoc(d domain.Document) domain.Document {
	d.Data = bytes.Clone(d.Data)
	return d
}

func clonePeer(p domain.Peer) domain.Peer {
	p.Interests = slices.Clone(p.Interests)
	return p
}
