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

// peerLink is the session of one round with a peer, replaced by redial.
type peerLink struct {
	e    *SyncEngine
	addr string
	cur  ports.PeerSession
}

func (l *peerLink) close() {
	if l.cur != nil {
		l.cur.Close()
		l.cur = nil
	}
}

func (l *peerLink) redial(ctx context.Context) error {
	l.close()
	s, err := l.e.dialer.Dial(ctx, l.addr)
	if err != nil {
		return err
	}
	l.cur = l.e.forPeer(ctx, l.addr, s, l.e.confirming(s))
	return nil
}

// syncSession opens a session and runs the best round the peer speaks: v5,
// else v4, else pull-only, as remembered of the peer (peer_caps.go) or
// found by probing. Each fallback uses a fresh session, since a peer that
// did not understand a request may have closed the connection. A family
// peer whose answer to a whole pull exceeds the response limit is pulled
// from collection by collection from then on (sync_legacy_session.go),
// starting at once.
func (e *SyncEngine) syncSession(ctx context.Context, t *peerTarget, res *roundResult) error {
	l := &peerLink{e: e, addr: t.addr}
	defer l.close()
	if err := l.redial(ctx); err != nil {
		return err
	}
	t.nodeID = l.cur.PeerID()
	e.learnNodeID(t.addr, t.nodeID)
	legacy := l.cur.Legacy()
	err := e.negotiatedRound(ctx, l, res)
	if domain.CodeOf(err) == domain.CodeTooLarge && ctx.Err() == nil && legacy && e.markPerCollection(t.addr) {
		e.logger.Warn("a peer's answer exceeds Network.MaxResponseBytes; pulling from it collection by collection",
			zap.String("peer", t.addr), zap.Error(err))
		if err := l.redial(ctx); err != nil {
			return err
		}
		*res = roundResult{}
		err = e.negotiatedRound(ctx, l, res)
	}
	if domain.CodeOf(err) == domain.CodeTooLarge {
		// Never a silent stall: the failure names the setting to raise.
		err = domain.Errorf(domain.CodeTooLarge, "sync.round",
			"peer %s answers with more than Network.MaxResponseBytes even collection by collection; raise it: %w", t.addr, err)
	}
	return err
}

// negotiatedRound runs the round of the level the peer speaks.
func (e *SyncEngine) negotiatedRound(ctx context.Context, l *peerLink, res *roundResult) error {
	legacy := e.legacyState(l.addr)
	if legacy == nil {
		err := e.roundV5(ctx, l.cur, res)
		if errors.Is(err, errNoVectorClock) {
			// A pooled session may have been cut by the peer meanwhile: ask
			// once more on a fresh connection before deciding it is v4.
			if err := l.redial(ctx); err != nil {
				return err
			}
			err = e.roundV5(ctx, l.cur, res)
		}
		if !errors.Is(err, errNoVectorClock) || probeTimedOut(l.cur, err) {
			return err
		}
		e.logger.Info("peer does not speak v5; falling back to v4", zap.String("peer", l.addr), zap.Error(err))
		if err := l.redial(ctx); err != nil {
			return err
		}
		legacy = e.markLegacy(l.addr, false)
	}
	if !legacy.pullOnly {
		err := e.roundV4(ctx, l.cur, legacy, res)
		if !errors.Is(err, errNoClock) {
			return err
		}
		e.logger.Info("peer answers no clock request; pulling only (and pushing what it lacks, if it takes pushes)",
			zap.String("peer", l.addr), zap.Error(err))
		if err := l.redial(ctx); err != nil {
			return err
		}
		legacy = e.markLegacy(l.addr, true)
	}
	return e.roundPullOnly(ctx, l, legacy, res)
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
