package app

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/ports"
)

var (
	errNoVectorClock = errors.New("peer did not answer a vector-clock request")
	errNoClock       = errors.New("peer did not answer a clock request")
)

// syncSession opens a session and runs the best round the peer speaks: v5,
// else v4, else pull-only. Each fallback uses a fresh session, since a peer
// that did not understand a request may have closed the connection.
func (e *SyncEngine) syncSession(ctx context.Context, t *peerTarget, res *roundResult) error {
	var cur ports.PeerSession
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	redial := func() error {
		if cur != nil {
			cur.Close()
			cur = nil
		}
		s, err := e.dialer.Dial(ctx, t.addr)
		if err != nil {
			return err
		}
		cur = e.confirming(s)
		return nil
	}
	if err := redial(); err != nil {
		return err
	}
	t.nodeID = cur.PeerID()
	e.learnNodeID(t.addr, t.nodeID)

	legacy := e.legacyState(t.addr)
	if legacy == nil {
		err := e.roundV5(ctx, cur, res)
		if errors.Is(err, errNoVectorClock) {
			// A pooled session may have been cut by the peer meanwhile: ask
			// once more on a fresh connection before deciding it is v4.
			if err := redial(); err != nil {
				return err
			}
			err = e.roundV5(ctx, cur, res)
		}
		if !errors.Is(err, errNoVectorClock) {
			return err
		}
		e.logger.Info("peer does not speak v5; falling back to v4", zap.String("peer", t.addr), zap.Error(err))
		if err := redial(); err != nil {
			return err
		}
		legacy = e.markLegacy(t.addr)
	}
	err := e.roundV4(ctx, cur, legacy, res)
	if !errors.Is(err, errNoClock) {
		return err
	}
	e.logger.Info("peer answers no clock request; pulling only", zap.String("peer", t.addr), zap.Error(err))
	if err := redial(); err != nil {
		return err
	}
	return e.roundPullOnly(ctx, cur, legacy, res)
}
