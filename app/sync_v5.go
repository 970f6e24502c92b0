package app

import (
	"context"
	"errors"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// roundV5 is the anti-entropy round of PROTOCOL.md §3.5: exchange vector
// clocks; pull the authors the peer is ahead on, push those we are ahead on.
// A round with a peer already in sync costs one request.
func (e *SyncEngine) roundV5(ctx context.Context, s ports.PeerSession, res *roundResult) error {
	res.level = "v5"
	vcCtx, cancel := context.WithTimeout(ctx, e.opts.VectorClockTimeout)
	theirVC, err := s.GetVectorClock(vcCtx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.Join(errNoVectorClock, err)
	}
	theirVC = theirVC.Normalize()
	st, err := e.newPullState(ctx, s)
	if err != nil {
		return err
	}
	// An empty node takes a Go peer's database file first, then the tail.
	if _, err := e.bootstrapFromFile(ctx, s, st, theirVC, res); err != nil {
		return err
	}
	pull, push := st.vc.Delta(theirVC)
	pull = e.dropSkewed(st.peer, pull, theirVC, res)
	var pullErr error
	if len(pull) > 0 {
		// A gap left unfilled does not stop the push: the peer may still
		// take what we have.
		if pullErr = e.pullV5(ctx, s, st, pull, theirVC, res); pullErr != nil && !isGap(pullErr) {
			return pullErr
		}
	}
	for _, author := range push {
		if err := e.pushAuthor(ctx, s, author, theirVC[author], res); err != nil {
			return err
		}
	}
	return pullErr
}

// dropSkewed leaves out of a pull the authors whose newest stamp is beyond
// MaxClockDrift: that entry would be refused, and every later one could not
// link past it, so pulling them would only re-read the peer's oplog from
// where we stand on that author, every round. It is reported instead (an
// author's older, acceptable entries then wait until its stamps are in
// range).
func (e *SyncEngine) dropSkewed(peer string, pull []string, theirVC domain.VectorClock, res *roundResult) []string {
	kept := pull[:0:0]
	for _, a := range pull {
		if err := e.clock.CheckDrift(theirVC[a]); err != nil {
			res.rejected++
			e.reportRejected(peer, &domain.Error{Code: domain.CodeSync, Op: "sync.pull",
				Msg: "entries of " + a + " refused", Err: err})
			continue
		}
		kept = append(kept, a)
	}
	return kept
}

// pullV5 pulls, for the authors the peer is ahead on, what we lack. The
// protocol has no per-author pull, so it pages through PullChanges from the
// oldest of our stamps for those authors and keeps what links to our
// chains. That never skips an entry: an author's stamps strictly increase in
// (wall, logic), so every entry we lack from author a lies strictly after
// our stamp for a, hence after the minimum (and PullChanges never cuts a
// (wall, logic) group, so a page boundary loses nothing either).
func (e *SyncEngine) pullV5(ctx context.Context, s ports.PeerSession, st *pullState, pull []string,
	theirVC domain.VectorClock, res *roundResult) error {
	since := st.vc[pull[0]]
	for _, a := range pull[1:] {
		if st.vc[a].Before(since) {
			since = st.vc[a]
		}
	}
	caughtUp := func() bool {
		for _, a := range pull {
			if theirVC[a].After(st.vc[a]) && !st.poisoned[a] {
				return false
			}
		}
		return true
	}
	err := e.pullFrom(ctx, s, st, since, fillGaps, caughtUp, res)
	if err != nil || caughtUp() || st.snapshot || e.snapshotter == nil {
		return err
	}
	if st.tainted {
		return gapError("") // what is missing may be what we refused
	}
	// The peer is ahead on an author but served nothing that links: it no
	// longer has that history (pruned, or it bootstrapped itself).
	if err := e.bootstrap(ctx, s, st, res); err != nil {
		return err
	}
	if !caughtUp() {
		for _, a := range pull {
			if theirVC[a].After(st.vc[a]) && !st.poisoned[a] {
				return gapError(a)
			}
		}
	}
	return nil
}
