package app

import (
	"context"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// pushAuthor pushes our entries of one author strictly after since, in
// pages. A peer answering snapshot_required could not link them (it lacks
// history we no longer have): it will bootstrap when it pulls from us. A
// peer answering success=false is reported, and ends this author's push.
func (e *SyncEngine) pushAuthor(ctx context.Context, s ports.PeerSession, author string, since domain.Timestamp, res *roundResult) error {
	for {
		page, err := e.store.AuthorEntriesAfter(ctx, author, since, e.opts.BatchSize)
		if err != nil {
			return domain.Wrap(domain.CodePersistence, "sync.push", err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, chunk := range domain.ChunkBySize(page, e.opts.MaxPushBytes) {
			proven, err := e.provePush(ctx, s, chunk)
			if err != nil {
				return err
			}
			snapReq, err := s.PushChanges(ctx, proven)
			if refusedPush(ctx, err) {
				// The peer applied what it accepted: the rest of this
				// author's chain cannot link past what it refused, other
				// authors still go.
				e.reportPushRefused(s.PeerID(), err, res)
				return nil
			}
			if err != nil {
				return err
			}
			res.pushed += len(chunk)
			res.bytesOut += domain.EntriesSize(proven)
			if snapReq {
				e.logger.Debug("peer cannot link our entries; it must bootstrap",
					zap.String("peer", s.PeerID()), zap.String("author", author))
				return nil
			}
		}
		if len(page) < e.opts.BatchSize {
			return nil
		}
		since = page[len(page)-1].Stamp
	}
}

// refusedPush says whether err is a peer's success=false answer to a push
// (a SYNC_ERROR on a session that stays usable), rather than a failure of
// the session itself.
func refusedPush(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && domain.CodeOf(err) == domain.CodeSync
}
