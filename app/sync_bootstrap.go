package app

import (
	"context"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// bootstrap catches up from the peer's snapshot when the peer no longer
// holds the entries we lack. From a Go peer over a transport that carries
// files, only its proven file is taken (mergeFromFile): its JSON snapshot
// proves none of its authors. Otherwise (a family peer under the legacy
// opt-in, or an in-process network of tests and the simulator) the JSON
// snapshot is merged: documents resolved like remote entries, heads and
// vector clock advanced. Parts stamped too far in the future (a peer with
// a broken clock) are left out, like such entries are; so is, from a
// family peer, whatever is in the name of an author whose key we know
// (ourselves, a Go node): legacy data never rewrites a Go node's history.
func (e *SyncEngine) bootstrap(ctx context.Context, s ports.PeerSession, st *pullState, res *roundResult) error {
	if fs, ok := fileTransport(s); ok && !st.legacy {
		return e.mergeFromFile(ctx, fs, st, res)
	}
	sn, err := s.GetSnapshot(ctx)
	if err != nil {
		return err
	}
	res.bytesIn += sn.Size()
	sn = e.filterSnapshot(st.peer, sn)
	if st.legacy {
		if sn, err = e.dropKnownAuthors(ctx, st.peer, sn); err != nil {
			return err
		}
	}
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

// dropKnownAuthors leaves out of a family peer's snapshot what is in the
// name of an author whose identity key we know (ourselves, a Go node that
// proved itself): its documents, and its head and clock, which only that
// author's proven entries move. What remains is the family's, taken as
// its legacy entries are.
func (e *SyncEngine) dropKnownAuthors(ctx context.Context, peer string, sn domain.Snapshot) (domain.Snapshot, error) {
	known := map[string]bool{}
	isKnown := func(author string) (bool, error) {
		k, ok := known[author]
		if !ok {
			_, found, err := e.authors.store.PeerKey(ctx, author)
			if err != nil {
				return false, domain.Wrap(domain.CodePersistence, "sync.snapshot", err)
			}
			k = found || author == e.authors.self
			known[author] = k
		}
		return k, nil
	}
	docs := sn.Documents[:0]
	dropped := 0
	for i := range sn.Documents {
		k, err := isKnown(sn.Documents[i].Stamp.Node)
		if err != nil {
			return sn, err
		}
		if k {
			dropped++
			continue
		}
		docs = append(docs, sn.Documents[i])
	}
	sn.Documents = docs
	authors := make(map[string]bool, len(sn.VectorClock))
	for a := range sn.VectorClock {
		authors[a] = true
	}
	for a := range sn.Heads {
		authors[a] = true
	}
	for author := range authors {
		k, err := isKnown(author)
		if err != nil {
			return sn, err
		}
		if k {
			delete(sn.VectorClock, author)
			delete(sn.Heads, author)
		}
	}
	if dropped > 0 {
		e.reportRejected(peer, domain.Errorf(domain.CodeUnauthorized, "sync.snapshot",
			"%d documents of a legacy snapshot are in the name of a node whose key we know; only its proven entries may write them", dropped))
	}
	return sn, nil
}
