package app

import (
	"context"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// bootstrap fetches the peer's snapshot and merges it: documents resolved
// like remote entries, heads and vector clock advanced. Parts stamped too
// far in the future (a peer with a broken clock) are left out, like such
// entries are.
func (e *SyncEngine) bootstrap(ctx context.Context, s ports.PeerSession, st *pullState, res *roundResult) error {
	sn, err := s.GetSnapshot(ctx)
	if err != nil {
		return err
	}
	res.bytesIn += sn.Size()
	sn = e.filterSnapshot(st.peer, sn)
	if _, err := e.db.ApplySnapshot(ctx, e.snapshotter, sn); err != nil {
		return domain.Wrap(domain.CodePersistence, "sync.bootstrap", err)
	}
	if newest := domain.VectorClock(sn.VectorClock).Max(); !newest.IsZero() {
		_, _ = e.clock.Update(newest) // drift already filtered out
	}
	st.snapshot, res.snapshot = true, true
	e.stats.snapshots.Add(1)
	e.logger.Info("bootstrapped from a peer's snapshot", zap.String("peer", st.peer),
		zap.Int("documents", len(sn.Documents)))
	return e.reloadState(ctx, st)
}

// filterSnapshot leaves out of a peer's snapshot what its entries would be
// refused for: documents that fail a local write's checks or are stamped
// too far ahead, and authors whose id or head no entry could carry.
func (e *SyncEngine) filterSnapshot(peer string, sn domain.Snapshot) domain.Snapshot {
	lim := e.db.entryLimits()
	docs := sn.Documents[:0]
	var dropped int
	var firstErr error
	for i := range sn.Documents {
		d := &sn.Documents[i]
		err := domain.ValidateDocument(d, lim)
		if err == nil {
			err = e.clock.CheckDrift(d.Stamp)
		}
		if err != nil {
			dropped++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		docs = append(docs, *d)
	}
	if dropped > 0 {
		e.reportRejected(peer, domain.Errorf(domain.CodeSync, "sync.snapshot",
			"%d snapshot documents refused, the first: %w", dropped, firstErr))
	}
	sn.Documents = docs
	for author, ts := range sn.VectorClock {
		if domain.ValidateNodeID(author) != nil || e.clock.CheckDrift(ts) != nil {
			delete(sn.VectorClock, author)
			delete(sn.Heads, author)
		}
	}
	for author, head := range sn.Heads {
		if domain.ValidateNodeID(author) != nil || head != "" && !domain.IsChainHash(head) {
			delete(sn.VectorClock, author)
			delete(sn.Heads, author)
		}
	}
	return sn
}
