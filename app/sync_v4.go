package app

import (
	"context"
	"errors"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// roundV4 syncs with a peer that does not answer vector-clock requests:
// compare clocks, pull, push.
//
// Pull: "since the newest stamp we hold" would miss entries the peer holds
// from other authors that are older than that stamp (they reached it late,
// or we never heard of their author). We pull instead since the oldest of
// our newest stamps per author other than ourselves: we hold every author's
// chain without holes up to its stamp (only linked entries are applied), so
// nothing we lack from a known author lies before that point. Authors we
// have never heard of are caught by a pull from the beginning on first
// contact and every LegacyFullPull after.
//
// Push: the entries after the peer's newest stamp, all authors.
//
// Residual limits with foreign v4 nodes: they push and serve without our
// chain rule, so an entry of theirs that reaches them late with an old stamp
// reaches us only at the next full pull; our v4 push misses entries they
// lack that are older than their newest stamp (they pull those themselves,
// if they pull); entries they send with hashes that do not link to the
// chains we hold are not applied (there is no chain-range request in v4).
// Two Go nodes falling back to v4 converge: each pulls as above.
func (e *SyncEngine) roundV4(ctx context.Context, s ports.PeerSession, legacy *legacyPeer, res *roundResult) error {
	res.level = "v4"
	theirs, err := s.GetClock(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.Join(errNoClock, err)
	}
	st, err := e.newPullState(ctx, s)
	if err != nil {
		return err
	}
	since := e.legacySince(st, legacy)
	if theirs.GroupAfter(since) {
		if err := e.pullFrom(ctx, s, st, since, leaveGaps, nil, res); err != nil && !isGap(err) {
			return err
		}
	}
	ours, err := e.store.NewestStamp(ctx)
	if err != nil {
		return domain.Wrap(domain.CodePersistence, "sync.v4", err)
	}
	if theirs.GroupAfter(ours) {
		return nil
	}
	// From the peer's newest (wall, logic) group included: entries of ours
	// may share it with a different node id.
	cursor := theirs.BeforeGroup()
	for {
		page, err := e.store.EntriesAfter(ctx, cursor, nil, e.opts.BatchSize, e.opts.MaxPushBytes)
		if err != nil {
			return domain.Wrap(domain.CodePersistence, "sync.v4", err)
		}
		if len(page) == 0 {
			return nil
		}
		proven, err := e.provePush(ctx, s, page)
		if err != nil {
			return err
		}
		if _, err := s.PushChanges(ctx, proven); refusedPush(ctx, err) {
			e.reportPushRefused(s.PeerID(), err, res) // it applied the rest: go on
		} else if err != nil {
			return err
		}
		res.pushed += len(page)
		res.bytesOut += domain.EntriesSize(proven)
		cursor = page[len(page)-1].Stamp.GroupCeiling()
	}
}

// roundPullOnly pulls from a peer that answers no clock request, then
// pushes it what it may lack (sync_legacy_push.go).
func (e *SyncEngine) roundPullOnly(ctx context.Context, l *peerLink, legacy *legacyPeer, res *roundResult) error {
	res.level = "pull-only"
	st, err := e.newPullState(ctx, l.cur)
	if err != nil {
		return err
	}
	if err := e.pullFrom(ctx, l.cur, st, e.legacySince(st, legacy), leaveGaps, nil, res); err != nil && !isGap(err) {
		return err
	}
	return e.pushToPullOnly(ctx, l.cur, legacy, res)
}

// legacySince is where a v4 pull starts (see roundV4).
func (e *SyncEngine) legacySince(st *pullState, legacy *legacyPeer) domain.Timestamp {
	e.mu.Lock()
	full := legacy.lastFullPull.IsZero() || time.Since(legacy.lastFullPull) > e.opts.LegacyFullPull
	if full {
		legacy.lastFullPull = time.Now()
	}
	e.mu.Unlock()
	if full {
		return domain.Timestamp{}
	}
	var since domain.Timestamp
	first := true
	for author, ts := range st.vc {
		if author == e.opts.NodeID {
			continue
		}
		if first || ts.Before(since) {
			since, first = ts, false
		}
	}
	return since
}
