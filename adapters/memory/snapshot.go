package memory

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Prune implements ports.Pruner: it drops entries whose wall is before
// beforeWall. Heads and the vector clock are kept, and the PrevHash of each
// author's oldest kept entry is the boundary ChainRange still starts from.
// Documents are state, not history: they stay.
func (s *Store) Prune(ctx context.Context, beforeWall int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "memory.Prune"); err != nil {
		return 0, err
	}
	kept := s.log[:0:0]
	for _, e := range s.log {
		if e.Stamp.Wall < beforeWall {
			delete(s.ids, idOf(&e))
			continue
		}
		kept = append(kept, e)
	}
	dropped := len(s.log) - len(kept)
	if dropped == 0 {
		return 0, nil
	}
	s.replaceLog(kept)
	return dropped, nil
}

// Snapshot implements ports.Snapshotter: every document (tombstones
// included) sorted by collection and key, the heads and the vector clock.
func (s *Store) Snapshot(ctx context.Context) (domain.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.Snapshot"); err != nil {
		return domain.Snapshot{}, err
	}
	snap := domain.Snapshot{
		Documents:   []domain.Document{},
		Heads:       maps.Clone(s.heads),
		VectorClock: maps.Clone(map[string]domain.Timestamp(s.vclock)),
	}
	for _, m := range s.docs {
		for _, d := range m {
			snap.Documents = append(snap.Documents, cloneDoc(d))
		}
	}
	slices.SortFunc(snap.Documents, func(a, b domain.Document) int {
		if c := strings.Compare(a.Collection, b.Collection); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return snap, nil
}

// ApplySnapshot implements ports.Snapshotter in one staged transaction: each
// document competes with the local one like a remote entry would (it is
// not written to the oplog), then every author's clock and head move to the
// snapshot's where those are newer.
func (s *Store) ApplySnapshot(ctx context.Context, r domain.Resolver, snap domain.Snapshot) (ports.ApplyResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "memory.ApplySnapshot"); err != nil {
		return ports.ApplyResult{}, err
	}
	x := s.begin()
	for _, d := range snap.Documents {
		e := domain.EntryFromDocument(&d)
		x.resolve(r, &e, e)
	}
	for author, stamp := range snap.VectorClock {
		if cur, known := x.newest(author); !known || stamp.After(cur) {
			x.vclock[author] = stamp
			x.heads[author] = snap.Heads[author]
		}
	}
	x.commit()
	return ports.ApplyResult{Changed: x.changed}, nil
}
