package app

import (
	"go.uber.org/zap"
)

func (e *SyncEngine) reportRejected(peer string, err error) {
	e.logger.Warn("rejected an entry from a peer", zap.String("peer", peer), zap.Error(err))
	e.recordError(peer, err)
}

func (e *SyncEngine) recordError(peer string, err error) {
	if e.status != nil {
		e.status.RecordError(peer, err)
	}
}

func (e *SyncEngine) recordSuccess(t peerTarget, res roundResult) {
	if e.status != nil {
		e.status.SetPeerConnected(t.nodeID, t.addr, true)
		e.status.RecordSyncSuccess(t.nodeID, t.addr, int64(res.applied+res.pushed), res.bytesIn+res.bytesOut)
	}
}

func (e *SyncEngine) recordFailure(t peerTarget, err error) {
	if e.status != nil {
		e.status.SetPeerConnected(t.nodeID, t.addr, false)
		e.status.RecordSyncFailure(t.nodeID, t.addr, err)
	}
}

func (e *SyncEngine) setPeerConnected(t peerTarget, connected bool) {
	if e.status != nil {
		e.status.SetPeerConnected(t.nodeID, t.addr, connected)
	}
}

func (e *SyncEngine) setOnline(online bool) {
	if e.status != nil {
		e.status.SetOnline(online)
	}
}
