package app

import (
	"context"
	"encoding/json"

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

func (e *SyncEngine) filterSnapshot(peer string, sn domain.Snapshot) domain.Snapshot {
	docs := sn.Documents[:0]
	var dropped int
	var firstErr error
	for _, d := range sn.Documents {
		err := e.clock.CheckDrift(d.Stamp)
		if err == nil && !d.Deleted && !json.Valid(d.Data) {
			err = domain.Errorf(domain.CodeSync, "sync.snapshot", "document %s/%s is not valid JSON", d.Collection, d.Key)
		}
		if err != nil {
			dropped++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		docs = append(docs, d)
	}
	if dropped > 0 {
		e.reportRejected(peer, domain.Errorf(domain.CodeClockDrift, "sync.snapshot",
			"%d snapshot documents refused: %w", dropped, firstErr))
	}
	sn.Documents = docs
	for author, ts := range sn.VectorClock {
		if e.clock.CheckDrift(ts) != nil {
			delete(sn.VectorClock, author)
			delete(sn.Heads, author)
		}
	}
	return sn
}
