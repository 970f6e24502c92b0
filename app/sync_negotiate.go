package app

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
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
		if !errors.Is(err, errNoVectorClock) || probeTimedOut(cur, err) {
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

// probeTimedOut says whether a failed vector-clock probe is a slow or lossy
// link rather than a v4 peer. A Go peer (one that took our handshake, not
// the C#/TypeScript family's) speaks v5, so for it only a session the
// peer closed on the request is taken for v4, as a v4 node closes on a
// message type it does not know; a timeout fails the round, which is tried
// again. Taken for v4, a Go peer would be spoken to without chain ranges
// and snapshots for LegacyRecheck: a node that needs a snapshot (the peer
// compacted what it lacks) could not catch up from it meanwhile.
func probeTimedOut(s ports.PeerSession, err error) bool {
	return !s.Legacy() && domain.CodeOf(err) == domain.CodeTimeout
}
