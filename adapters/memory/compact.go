package memory

import (
	"bytes"
	"context"
	"slices"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var (
	_ ports.Compactor       = (*Store)(nil)
	_ ports.StorageReporter = (*Store)(nil)
)

// Compact implements ports.Compactor. A removed entry whose successor in
// its author's chain stays leaves its link in boundaryLinks, keyed by its
// hash: LinkOf answers from it and ChainRange refuses to cross it. The
// entry before a hole keeps what proving needs across it
// (compactbridges.go).
func (s *Store) Compact(ctx context.Context, p domain.CompactionPolicy) (ports.CompactionResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res ports.CompactionResult
	if err := s.check(ctx, "memory.Compact"); err != nil {
		return res, err
	}
	removed := map[int]bool{}
	for i := range s.log {
		e := &s.log[i]
		doc := s.docs[e.Collection][e.Key]
		superseded := doc.Stamp.After(e.Stamp)
		if !p.Removable(e, s.heads[e.Author()] == e.Hash, superseded) {
			continue
		}
		removed[i] = true
		res.EntriesRemoved++
		res.BytesRemoved += int64(e.Size())
		if !superseded {
			res.TombstonesRemoved++
			if domain.CollectsExpired(e) {
				s.docs[e.Collection][e.Key] = markerOf(doc)
			}
			if domain.Planted(domain.BugTombstoneNoMarker) {
				delete(s.docs[e.Collection], e.Key)
			}
		}
	}
	if len(removed) == 0 {
		return res, nil
	}
	// Holes: a run of removed entries followed by a kept one keeps the
	// link of the run's last; a boundary whose successor goes moves on.
	for _, chain := range s.chainsLocked() {
		for j, i := range chain {
			if !removed[i] {
				continue
			}
			delete(s.boundaryLinks, s.log[i].PrevHash)
			if j+1 < len(chain) && !removed[chain[j+1]] {
				if s.boundaryLinks == nil {
					s.boundaryLinks = map[string][]byte{}
				}
				s.boundaryLinks[s.log[i].Hash] = bytes.Clone(s.log[i].Link)
			}
		}
	}
	for _, chain := range s.chainsLocked() {
		s.bridgeHoles(chain, removed)
	}
	for i := range removed {
		delete(s.bridges, s.log[i].Hash)
	}
	kept := s.log[:0:0]
	for i, e := range s.log {
		if removed[i] {
			delete(s.ids, idOf(&e))
			continue
		}
		kept = append(kept, e)
	}
	s.replaceLog(kept)
	return res, nil
}

// markerOf is what stays of a collected document: its key and stamp, as
// a deleted row, so an older version cannot bring it back.
func markerOf(d domain.Document) domain.Document {
	return domain.Document{Collection: d.Collection, Key: d.Key, Stamp: d.Stamp, Deleted: true}
}

// replaceLog installs log and rebuilds the indexes into it.
func (s *Store) replaceLog(log []domain.Entry) {
	s.log = log
	s.byHash = make(map[string]int, len(log))
	s.perKey = map[docKey][]int{}
	for i, e := range log {
		s.byHash[e.Hash] = i
		k := docKey{e.Collection, e.Key}
		s.perKey[k] = append(s.perKey[k], i)
	}
}

// chainsLocked returns each author's entries as indexes into the log, in
// HLC order.
func (s *Store) chainsLocked() map[string][]int {
	chains := map[string][]int{}
	for i := range s.log {
		a := s.log[i].Author()
		chains[a] = append(chains[a], i)
	}
	for _, c := range chains {
		slices.SortFunc(c, func(i, j int) int { return hlcOrder(s.log[i], s.log[j]) })
	}
	return chains
}

// acrossHole reports whether chain (one author's entries, in order) steps
// over removed entries: some entry's predecessor was compacted away.
func (s *Store) acrossHole(chain []domain.Entry) bool {
	for i := range chain {
		if _, ok := s.boundaryLinks[chain[i].PrevHash]; ok {
			return true
		}
	}
	return false
}

// StorageStats implements ports.StorageReporter (nothing on disk).
func (s *Store) StorageStats(ctx context.Context) (ports.StorageStats, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.StorageStats"); err != nil {
		return ports.StorageStats{}, err
	}
	st := ports.StorageStats{OplogEntries: int64(len(s.log))}
	for _, m := range s.docs {
		for _, d := range m {
			if d.Deleted {
				st.Tombstones++
			}
		}
	}
	return st, nil
}
