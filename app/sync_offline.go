package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// enqueueOffline parks local commits in the offline queue while no peer is
// reachable; they are pushed first when one comes back.
func (e *SyncEngine) enqueueOffline(ctx context.Context, entries []domain.Entry) {
	if e.queue == nil || !e.queue.Enabled() || e.queueFull.Load() {
		return
	}
	now := time.Now().UnixMilli()
	for _, en := range entries {
		op := domain.PendingOperation{Op: en.Op, Collection: en.Collection, Key: en.Key,
			Data: en.Data, Stamp: en.Stamp, QueuedAt: now}
		if err := e.queue.Enqueue(ctx, op); err != nil {
			full := domain.CodeOf(err) == domain.CodeQueueFull
			// Warn once per episode of a full queue, not once per write.
			if !full || !e.queueFull.Swap(true) {
				e.logger.Warn("could not queue a change for later sync; anti-entropy will carry it",
					zap.String("collection", en.Collection), zap.String("key", en.Key), zap.Error(err))
				e.recordError("", err)
			}
			return
		}
		e.queued.Store(true)
	}
}

// flushQueue pushes the queued operations to a peer that just became
// reachable, oldest first, before anything else goes to it. Operations whose
// push fails stay queued in order; one the peer refuses was delivered and
// leaves the queue, or every flush would send it again, forever. The queue
// holds only what identifies a change, so each one is pushed as the sealed
// entry from our oplog; one that is gone (pruned) counts as delivered: a
// snapshot carries it.
func (e *SyncEngine) flushQueue(ctx context.Context, s ports.PeerSession) {
	// Clear the flag before reading the queue: an operation queued while
	// this flush runs sets it again, so a later flush picks it up.
	if e.queue == nil || !e.queued.Swap(false) {
		return
	}
	ok, failed, err := e.queue.Flush(ctx, func(ctx context.Context, op domain.PendingOperation) error {
		en, found, err := e.findEntry(ctx, op)
		if err != nil || !found {
			return err
		}
		proven, err := e.provePush(ctx, s, []domain.Entry{en})
		if err != nil {
			return err
		}
		_, err = s.PushChanges(ctx, proven)
		if e.deliveredRefused(ctx, s.PeerID(), err) {
			return nil
		}
		return err
	})
	if err != nil || failed > 0 {
		e.queued.Store(true)
	}
	if ok > 0 {
		e.queueFull.Store(false) // there is room again
	}
	if err != nil && ctx.Err() == nil {
		// The queue itself failed (not a push): say so where operators look.
		e.logger.Warn("offline queue flush failed", zap.String("peer", s.PeerID()), zap.Error(err))
		e.recordError(s.PeerID(), err)
	}
	if ok > 0 || failed > 0 || err != nil {
		e.logger.Debug("offline queue flushed", zap.String("peer", s.PeerID()),
			zap.Int("successful", ok), zap.Int("failed", failed), zap.Error(err))
	}
}

// findEntry looks up the oplog entry a queued operation stands for.
func (e *SyncEngine) findEntry(ctx context.Context, op domain.PendingOperation) (domain.Entry, bool, error) {
	since := op.Stamp.Prev()
	for {
		page, err := e.store.AuthorEntriesAfter(ctx, op.Stamp.Node, since, 64)
		if err != nil {
			return domain.Entry{}, false, err
		}
		for _, en := range page {
			if en.Stamp.After(op.Stamp) {
				return domain.Entry{}, false, nil
			}
			if en.Stamp == op.Stamp && en.Collection == op.Collection && en.Key == op.Key {
				return en, true, nil
			}
		}
		if len(page) < 64 {
			return domain.Entry{}, false, nil
		}
		since = page[len(page)-1].Stamp
	}
}
