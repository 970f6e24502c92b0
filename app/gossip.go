package app

import (
	"context"
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// gossipLoop pushes local commits as they come. While one push is in
// flight, later commits accumulate and go out together in the next one.
func (e *SyncEngine) gossipLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.outbox.readyC():
		}
		entries, overflow := e.outbox.take()
		if overflow {
			e.stats.gossipOverflows.Add(1)
			e.logger.Debug("outbox overflowed; running an anti-entropy round instead")
			e.kickRound()
		}
		if len(entries) > 0 {
			e.pushGossip(ctx, entries)
		}
	}
}

// pushGossip pushes entries to up to GossipFanout reachable peers, in
// parallel. When none can be reached they wait in the oplog (the offline
// queue counts them) for the next round with a peer. A peer that refused them was reached: re-sending cannot change its
// decision, so that push counts as delivered.
func (e *SyncEngine) pushGossip(ctx context.Context, entries []domain.Entry) {
	targets := e.pick(e.opts.GossipFanout)
	delivered, busy := 0, 0
	if len(targets) > 0 {
		// Proven once for every peer: each push is one chunk, and each
		// chunk carries the proofs of its runs.
		chunks, err := e.proveChunks(ctx, entries)
		if err != nil {
			if ctx.Err() == nil {
				e.logger.Warn("could not prove local commits for gossip; a round will carry them", zap.Error(err))
				e.recordError("", err)
				e.kickRound()
			}
			return
		}
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		for _, t := range targets {
			wg.Go(func() {
				err := e.gossipTo(ctx, t, chunks)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					delivered++
				case errors.Is(err, errPeerBusy):
					busy++
				}
			})
		}
		wg.Wait()
	}
	if ctx.Err() != nil || busy > 0 && delivered == 0 {
		return // a round in progress with a busy peer will carry the entries
	}
	e.setOnline(delivered > 0)
}

// errPeerBusy: a round with that peer held its session slot too long.
var errPeerBusy = errors.New("peer busy with a sync round")

// proveChunks cuts entries into pushes and proves each.
func (e *SyncEngine) proveChunks(ctx context.Context, entries []domain.Entry) ([][]domain.Entry, error) {
	chunks := domain.ChunkBySize(entries, e.opts.MaxPushBytes)
	for i, chunk := range chunks {
		proven, err := e.authors.prove(ctx, chunk)
		if err != nil {
			return nil, err
		}
		chunks[i] = proven
	}
	return chunks, nil
}

// gossipTo pushes proven chunks to one peer. It waits a bounded time for a
// round in progress with that peer (one session per peer at a time); when
// the wait is too long it gives up on the push: that round or the next one
// will carry the entries.
func (e *SyncEngine) gossipTo(ctx context.Context, t peerTarget, chunks [][]domain.Entry) error {
	if e.takesNoPushes(t.addr) {
		return nil // a pull-only peer that takes no pushes pulls them itself
	}
	lockCtx, cancel := context.WithTimeout(ctx, e.opts.GossipLockWait)
	release, err := e.acquire(lockCtx, t.addr)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		e.kickRound()
		return errPeerBusy
	}
	defer release()
	var bytesOut int64
	var pushed int
	err = func() error {
		s, err := e.dialer.Dial(ctx, t.addr)
		if err != nil {
			return err
		}
		defer s.Close()
		t.nodeID = s.PeerID()
		e.learnNodeID(t.addr, t.nodeID)
		s = e.forPeer(ctx, t.addr, s, e.confirming(s)) // a family peer gets its interests only
		bytesOut, pushed = 0, 0
		gap := false
		for _, chunk := range chunks {
			snapReq, err := s.PushChanges(ctx, chunk)
			if e.deliveredRefused(ctx, s.PeerID(), err) {
				// Our later entries cannot link past what it refused.
				return nil
			}
			if err != nil {
				return err
			}
			bytesOut += domain.EntriesSize(chunk)
			pushed += len(chunk)
			gap = gap || snapReq
		}
		if gap {
			// The peer lacks earlier entries of ours, so it could not link
			// these: push it everything it lacks of our chain now.
			return e.catchUpPush(ctx, s, &roundResult{})
		}
		return nil
	}()
	if err != nil {
		if ctx.Err() == nil {
			e.logger.Debug("gossip push failed", zap.String("peer", t.addr), zap.Error(err))
			e.setPeerConnected(t, false)
		}
		return err
	}
	e.stats.gossipPushes.Add(1)
	e.stats.entriesPushed.Add(int64(pushed))
	e.stats.bytesOut.Add(bytesOut)
	if e.status != nil {
		e.status.RecordTransfer(0, bytesOut)
	}
	e.setPeerConnected(t, true)
	return nil
}

// deliveredRefused says whether err is the peer's success=false answer to
// a push outside a round (gossip), and then reports it
// as a round's refused push is. Such entries count as delivered: the peer
// received them and decided. A peer's transient failure answers
// success=false too, and is indistinguishable here; the entries are still
// in our oplog, and the next round pushes what the peer lacks.
func (e *SyncEngine) deliveredRefused(ctx context.Context, peer string, err error) bool {
	if !refusedPush(ctx, err) {
		return false
	}
	e.reportPushRefused(peer, err, &roundResult{})
	return true
}

// catchUpPush asks the peer's vector clock and pushes our own chain from
// where it stands.
func (e *SyncEngine) catchUpPush(ctx context.Context, s ports.PeerSession, res *roundResult) error {
	vcCtx, cancel := context.WithTimeout(ctx, e.opts.VectorClockTimeout)
	theirVC, err := s.GetVectorClock(vcCtx)
	cancel()
	if err != nil {
		return nil // a v4 peer: the next round's v4 push covers it
	}
	return e.pushAuthor(ctx, s, e.opts.NodeID, theirVC.Normalize()[e.opts.NodeID], res)
}
