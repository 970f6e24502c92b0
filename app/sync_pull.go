package app

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// gapHandling says what a pull does about entries that do not link to the
// chains we hold.
type gapHandling int

const (
	// leaveGaps reports them (v4 and pull-only peers serve no chain ranges).
	leaveGaps gapHandling = iota
	// fillGaps fetches the missing part of the chain from the peer, or its
	// snapshot when that history is pruned.
	fillGaps
)

// pullFrom pages through the peer's PullChanges from since, applying what
// links, until a page is empty, stop says so, or the cursor stops moving.
// The next page is requested while the current one is applied (the
// session is locked so requests still strictly alternate with responses,
// e.g. when a gap needs a chain range meanwhile); each prefetch is received
// before pullFrom returns, so no goroutine outlives it.
func (e *SyncEngine) pullFrom(ctx context.Context, s ports.PeerSession, st *pullState, since domain.Timestamp,
	gaps gapHandling, stop func() bool, res *roundResult) error {
	ls := lockSession(s)
	type fetched struct {
		page    []domain.Entry
		checked checkedPage
		err     error
	}
	// The fetching goroutine also checks each entry on its own (hash,
	// drift) and the page's proofs of authorship: that needs nothing of
	// the round's state, and it keeps the applying goroutine, the slower
	// stage, to deciding, linking and storing.
	fetch := func(since domain.Timestamp) <-chan fetched {
		ch := make(chan fetched, 1)
		go func() {
			page, err := ls.PullChanges(ctx, ports.PullRequest{Since: since})
			ch <- fetched{page, e.checkPage(page), err}
		}()
		return ch
	}
	var gapErr error
	next := fetch(since)
	for {
		f := <-next
		next = nil
		var resume domain.Timestamp // where unreadable entries end, if any
		if f.err != nil {
			if domain.CodeOf(f.err) != domain.CodeSync {
				return f.err
			}
			// Some entries of the page did not convert (unknown operation,
			// invalid JSON): they are refused, the rest flows, and the
			// cursor moves past them. Their authors' chains now have holes
			// that no range or snapshot from this peer would fill without
			// the same entries, so this round recovers no gaps.
			res.rejected++
			e.reportRejected(st.peer, f.err)
			st.tainted = true
			var unreadable *ports.UnreadableEntriesError
			if errors.As(f.err, &unreadable) {
				resume = unreadable.Resume
			} else if len(f.page) == 0 {
				// Nothing says where the page ended: stop pulling from
				// this peer this round.
				return gapError("")
			}
		}
		page := f.page
		if len(page) == 0 && resume.IsZero() {
			break
		}
		last := resume
		if len(page) > 0 && page[len(page)-1].Stamp.After(last) {
			last = page[len(page)-1].Stamp
		}
		progressed := last.GroupAfter(since) // else stop rather than loop
		if progressed {
			since = last
			next = fetch(since)
		}
		res.pulled += len(page)
		res.bytesIn += domain.EntriesSize(page)
		if err := e.applyPage(ctx, ls, st, f.checked, gaps, res); err != nil {
			if ctx.Err() != nil || !isGap(err) {
				if next != nil {
					<-next
				}
				return err
			}
			gapErr = err // other authors may still flow
		}
		if !progressed {
			break
		}
		if stop != nil && stop() {
			<-next
			break
		}
	}
	return gapErr
}

// pullState is what a round knows of our chains while it applies pages.
type pullState struct {
	peer     string
	legacy   bool // the peer is of the C#/TypeScript family (PeerSession.Legacy)
	vc       domain.VectorClock
	heads    map[string]string
	poisoned map[string]bool // authors with an entry rejected this round
	snapshot bool            // a snapshot was applied this round
	tainted  bool            // the peer sent entries that did not convert
}

func (e *SyncEngine) newPullState(ctx context.Context, s ports.PeerSession) (*pullState, error) {
	vc, heads, err := chainState(ctx, e.store)
	if err != nil {
		return nil, err
	}
	return &pullState{peer: s.PeerID(), legacy: s.Legacy(), vc: vc, heads: heads, poisoned: map[string]bool{}}, nil
}

func (e *SyncEngine) reloadState(ctx context.Context, st *pullState) error {
	vc, heads, err := chainState(ctx, e.store)
	if err != nil {
		return err
	}
	st.vc, st.heads = vc, heads
	return nil
}

// checkedPage is a page through validateEntries and checkProofs.
type checkedPage struct {
	valid    provenPage
	rejected []rejection
}

// checkPage runs the checks of a peer's page that need no round state.
func (e *SyncEngine) checkPage(page []domain.Entry) checkedPage {
	valid, rejected := validateEntries(e.clock, e.db.entryLimits(), page)
	return checkedPage{checkProofs(valid), rejected}
}

// admit reports a checked page's rejected entries and those whose authors
// are not proven, and returns the others.
func (e *SyncEngine) admit(ctx context.Context, st *pullState, page checkedPage, res *roundResult) ([]domain.Entry, error) {
	e.refuse(st, page.rejected, res)
	admitted, unproven, err := e.authors.admit(ctx, page.valid, st.legacy, chainView{st.vc, st.heads})
	if err != nil {
		return nil, err
	}
	e.refuse(st, unproven, res)
	return admitted, nil
}

// applyPage reports a checked page's rejected entries, applies the
// admitted ones that link to our chains and, with fillGaps, fills chain
// gaps from the peer (GetChainRange, then a snapshot when that history is
// pruned).
func (e *SyncEngine) applyPage(ctx context.Context, s ports.PeerSession, st *pullState, page checkedPage,
	gaps gapHandling, res *roundResult) error {
	admitted, err := e.admit(ctx, st, page, res)
	if err != nil {
		return err
	}
	linked, unlinked := domain.LinkEntries(admitted, st.vc, st.heads)
	if err := e.apply(ctx, st, linked, res); err != nil {
		return err
	}
	var gapErr error
	for _, author := range sortedKeys(unlinked) {
		if st.poisoned[author] {
			continue // its chain is broken by a rejected entry: nothing to recover
		}
		if gaps == leaveGaps || st.tainted || domain.Planted(domain.BugSkipGapFill) {
			gapErr = gapError(author)
			continue
		}
		if err := e.fillGap(ctx, s, st, author, unlinked[author], res); err != nil {
			if !isGap(err) {
				return err
			}
			gapErr = err
		}
	}
	return gapErr
}

// refuse reports and counts entries a check rejected; their authors'
// chains now have holes this round cannot fill.
func (e *SyncEngine) refuse(st *pullState, rejected []rejection, res *roundResult) {
	for i := range rejected {
		st.poisoned[rejected[i].author] = true
		e.reportRejected(st.peer, rejected[i].err)
		res.rejected++
	}
}

// fillGap fetches the part of author's chain between our head and the
// first entry we could not link; when the peer no longer has it, bootstrap
// from the peer's snapshot (once per round).
func (e *SyncEngine) fillGap(ctx context.Context, s ports.PeerSession, st *pullState, author string,
	leftovers []domain.Entry, res *roundResult) error {
	rng, snapReq, err := s.GetChainRange(ctx, st.heads[author], leftovers[0].PrevHash)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// The peer cannot serve that range (it may hold the author's later
		// entries without the earlier ones itself): try its snapshot.
		e.logger.Debug("chain range failed", zap.String("peer", st.peer), zap.String("author", author), zap.Error(err))
		snapReq = true
	}
	if !snapReq {
		res.pulled += len(rng)
		res.bytesIn += domain.EntriesSize(rng)
		// The leftovers were admitted with their page.
		admitted, err := e.admit(ctx, st, e.checkPage(rng), res)
		if err != nil {
			return err
		}
		linked, gaps := domain.LinkEntries(append(admitted, leftovers...), st.vc, st.heads)
		if err := e.apply(ctx, st, linked, res); err != nil {
			return err
		}
		if len(gaps[author]) == 0 || st.poisoned[author] {
			return nil
		}
		leftovers = gaps[author]
	}
	if st.snapshot || e.snapshotter == nil {
		return gapError(author)
	}
	if err := e.bootstrap(ctx, s, st, res); err != nil {
		return err
	}
	linked, gaps := domain.LinkEntries(leftovers, st.vc, st.heads)
	if err := e.apply(ctx, st, linked, res); err != nil {
		return err
	}
	if len(gaps[author]) > 0 {
		return gapError(author)
	}
	return nil
}

// apply stores linked entries through the database (HLC, cache, change feed)
// and moves the round's view of our chains forward.
func (e *SyncEngine) apply(ctx context.Context, st *pullState, linked []domain.Entry, res *roundResult) error {
	if len(linked) == 0 {
		return nil
	}
	ar, err := e.db.ApplyRemote(ctx, linked)
	res.applied += len(ar.Applied)
	if domain.CodeOf(err) == domain.CodeClockDrift {
		// Our physical clock moved between the check and the apply: the
		// refused entries stay out; learn what did land.
		e.recordError(st.peer, err)
		return e.reloadState(ctx, st)
	}
	if err != nil {
		return domain.Wrap(domain.CodePersistence, "sync.apply", err)
	}
	for i := range linked {
		en := &linked[i]
		if en.Stamp.After(st.vc[en.Author()]) {
			st.vc[en.Author()] = en.Stamp
			st.heads[en.Author()] = en.Hash
		}
	}
	return nil
}
