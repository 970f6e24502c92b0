package memory

import (
	"cmp"
	"context"
	"slices"
	"sort"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// hlcOrder sorts entries by stamp, then by Seq (entries sharing a full stamp
// differ only by key; Seq keeps their order stable).
func hlcOrder(a, b domain.Entry) int {
	if c := a.Stamp.Compare(b.Stamp); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// sameGroup reports whether two stamps share (wall, logical): entries a
// page must never split.
func sameGroup(a, b domain.Timestamp) bool { return a.Wall == b.Wall && a.Logical == b.Logical }

// afterGroup reports whether t is strictly after since by (wall, logical);
// the node of since is ignored, as both reference implementations do.
func afterGroup(t, since domain.Timestamp) bool {
	return t.Wall > since.Wall || t.Wall == since.Wall && t.Logical > since.Logical
}

// EntriesAfter implements ports.OplogReader. Whole (wall, logical) groups
// are added while the page stays within both limits (<= 0: no limit); the
// first group always goes in whole so a reader makes progress.
func (s *Store) EntriesAfter(ctx context.Context, since domain.Timestamp, collections []string, maxEntries, maxBytes int) ([]domain.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.EntriesAfter"); err != nil {
		return nil, err
	}
	var cand []domain.Entry
	for _, e := range s.log {
		if afterGroup(e.Stamp, since) && (len(collections) == 0 || slices.Contains(collections, e.Collection)) {
			cand = append(cand, e)
		}
	}
	slices.SortFunc(cand, hlcOrder)
	out := []domain.Entry{}
	size := 0
	for i := 0; i < len(cand); {
		j, groupSize := i, 0
		for ; j < len(cand) && sameGroup(cand[j].Stamp, cand[i].Stamp); j++ {
			groupSize += cand[j].Size()
		}
		if len(out) > 0 && (maxEntries > 0 && len(out)+j-i > maxEntries || maxBytes > 0 && size+groupSize > maxBytes) {
			break
		}
		for _, e := range cand[i:j] {
			out = append(out, cloneEntry(e))
		}
		size += groupSize
		i = j
	}
	return out, nil
}

// authorChain returns one author's entries in HLC order.
func (s *Store) authorChain(author string) []domain.Entry {
	var out []domain.Entry
	for _, e := range s.log {
		if e.Stamp.Node == author {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, hlcOrder)
	return out
}

// AuthorEntriesAfter implements ports.OplogReader (limit <= 0: no limit).
func (s *Store) AuthorEntriesAfter(ctx context.Context, author string, since domain.Timestamp, limit int) ([]domain.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.AuthorEntriesAfter"); err != nil {
		return nil, err
	}
	out := []domain.Entry{}
	for _, e := range s.authorChain(author) {
		if limit > 0 && len(out) == limit {
			break
		}
		if e.Stamp.After(since) {
			out = append(out, cloneEntry(e))
		}
	}
	return out, nil
}

// ChainRange implements ports.OplogReader. The start may be the hash of a
// held entry of the author or the PrevHash of its oldest held entry (""
// for an unpruned chain, the boundary hash after a prune); any other start,
// or a range across compacted entries, is history we cannot serve:
// ErrHistoryPruned. An unknown end is NOT_FOUND.
func (s *Store) ChainRange(ctx context.Context, startHash, endHash string) ([]domain.Entry, error) {
	const op = "memory.ChainRange"
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	i, ok := s.byHash[endHash]
	if !ok {
		return nil, domain.Errorf(domain.CodeNotFound, op, "no entry with hash %q", endHash)
	}
	end := s.log[i]
	chain := s.authorChain(end.Author())
	last := slices.IndexFunc(chain, func(e domain.Entry) bool { return e.Hash == endHash })
	chain = chain[:last+1]
	from := -1
	if chain[0].PrevHash == startHash {
		from = 0
	} else if j := slices.IndexFunc(chain, func(e domain.Entry) bool { return e.Hash == startHash }); j >= 0 {
		from = j + 1
	}
	if from < 0 || s.acrossHole(chain[from:]) {
		return nil, domain.Wrap(domain.CodeSync, op, ports.ErrHistoryPruned)
	}
	out := make([]domain.Entry, 0, len(chain)-from)
	for _, e := range chain[from:] {
		out = append(out, cloneEntry(e))
	}
	return out, nil
}

// EntriesSinceSeq implements ports.OplogReader (limit <= 0: no limit).
func (s *Store) EntriesSinceSeq(ctx context.Context, seq int64, limit int) ([]domain.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.EntriesSinceSeq"); err != nil {
		return nil, err
	}
	// log is in Seq order.
	rest := s.log[sort.Search(len(s.log), func(i int) bool { return s.log[i].Seq > seq }):]
	if limit > 0 && limit < len(rest) {
		rest = rest[:limit]
	}
	out := make([]domain.Entry, len(rest))
	for i := range rest {
		out[i] = cloneEntry(rest[i])
	}
	return out, nil
}

// NewestStamp implements ports.OplogReader: the greatest full stamp of any
// entry (zero for an empty oplog).
func (s *Store) NewestStamp(ctx context.Context) (domain.Timestamp, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.NewestStamp"); err != nil {
		return domain.Timestamp{}, err
	}
	// The greatest head: pruned entries and snapshots' heads count.
	var newest domain.Timestamp
	for _, ts := range s.vclock {
		if ts.After(newest) {
			newest = ts
		}
	}
	return newest, nil
}

// LastSeq implements ports.OplogReader.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.LastSeq"); err != nil {
		return 0, err
	}
	return s.seq, nil
}

// VectorClock implements ports.OplogReader.
func (s *Store) VectorClock(ctx context.Context) (domain.VectorClock, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.VectorClock"); err != nil {
		return nil, err
	}
	return s.vclock.Clone(), nil
}

// Heads implements ports.OplogReader.
func (s *Store) Heads(ctx context.Context) (map[string]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.Heads"); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(s.heads))
	for a, h := range s.heads {
		out[a] = h
	}
	return out, nil
}
