package app

import (
	"go.uber.org/zap"
)

// reportRejected counts an entry of peer's we refused, and logs it at most
// once per peer and cause a minute.
func (e *SyncEngine) reportRejected(peer string, err error) {
	e.refusals.report(peer, err)
}

// reportPushRefused notes that peer did not apply a push of ours: logged
// at most once per peer a minute; the round counts it (recordSuccess).
func (e *SyncEngine) reportPushRefused(peer string, err error, res *roundResult) {
	res.pushRefused = err
	if e.status != nil {
		e.status.RecordPushRefused()
	}
	if _, ok := e.refusals.allow(peer, "push"); ok {
		e.logger.Warn("a peer did not apply entries we pushed", zap.String("peer", peer), zap.Error(err))
	}
}

func (e *SyncEngine) recordError(peer string, err error) {
	if e.status != nil {
		e.status.RecordError(peer, err)
	}
}

func (e *SyncEngine) recordSuccess(t peerTarget, res roundResult) {
	if e.status != nil {
		e.status.SetPeerConnected(t.nodeID, t.addr, true)
		e.status.RecordSyncRound(t.nodeID, t.addr, int64(res.applied+res.pushed), res.bytesIn+res.bytesOut, res.pushRefused)
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
