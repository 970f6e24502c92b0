package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// pushToPullOnly pushes our oplog to a pull-only peer (the TypeScript
// node): it pulls only what is newer than its own newest document, so a
// write of ours stamped before its latest one would never reach it. What
// was pushed is remembered (legacyPeer.pushedThrough); the whole oplog is
// pushed again on first contact and every LegacyFullPull, which also
// carries entries that reached us late with older stamps. Its own entries
// are left out. A peer whose server leaves the first push unanswered takes
// none: that is remembered, and it is never pushed to again.
func (e *SyncEngine) pushToPullOnly(ctx context.Context, s ports.PeerSession, legacy *legacyPeer, res *roundResult) error {
	e.mu.Lock()
	pushes, cursor := legacy.pushes, legacy.pushedThrough
	full := legacy.lastFullPush.IsZero() || time.Since(legacy.lastFullPush) > e.opts.LegacyFullPull
	e.mu.Unlock()
	if pushes == pushesRefused {
		return nil
	}
	if full {
		cursor = domain.Timestamp{}
	}
	remember := func() {
		e.mu.Lock()
		legacy.pushes, legacy.pushedThrough = pushes, cursor
		if full {
			legacy.lastFullPush = time.Now()
		}
		e.mu.Unlock()
	}
	for {
		page, err := e.store.EntriesAfter(ctx, cursor, nil, e.opts.BatchSize, e.opts.MaxPushBytes)
		if err != nil {
			return domain.Wrap(domain.CodePersistence, "sync.push", err)
		}
		if len(page) == 0 {
			remember()
			return nil
		}
		theirs := s.PeerID()
		send := page[:0:0]
		for i := range page {
			if page[i].Author() != theirs {
				send = append(send, page[i])
			}
		}
		if len(send) > 0 {
			proven, err := e.provePush(ctx, s, send)
			if err != nil {
				return err
			}
			_, err = s.PushChanges(ctx, proven)
			switch {
			case refusedPush(ctx, err):
				e.reportPushRefused(s.PeerID(), err, res) // it applied the rest: go on
			case err != nil && ctx.Err() == nil && pushes == pushesUnknown:
				e.logger.Info("pull-only peer takes no pushes; not pushing to it", zap.String("peer", s.PeerID()), zap.Error(err))
				pushes = pushesRefused
				remember()
				return nil
			case err != nil:
				return err
			default:
				res.pushed += len(send)
				res.bytesOut += domain.EntriesSize(proven)
			}
			pushes = pushesAccepted
		}
		cursor = page[len(page)-1].Stamp.GroupCeiling()
	}
}
