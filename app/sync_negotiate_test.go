package app

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// slowProbeDialer's sessions time out on vector-clock requests while slow
// is set, as over a slow or lossy link.
type slowProbeDialer struct {
	ports.PeerDialer
	slow atomic.Bool
}

func (d *slowProbeDialer) Dial(ctx context.Context, addr string) (ports.PeerSession, error) {
	s, err := d.PeerDialer.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &slowProbeSession{PeerSession: s, d: d}, nil
}

type slowProbeSession struct {
	ports.PeerSession
	d *slowProbeDialer
}

func (s *slowProbeSession) GetVectorClock(ctx context.Context) (domain.VectorClock, error) {
	if s.d.slow.Load() {
		return nil, domain.Errorf(domain.CodeTimeout, "test.GetVectorClock", "no answer in time")
	}
	return s.PeerSession.GetVectorClock(ctx)
}

// A Go peer whose vector-clock probe times out (twice, on two sessions)
// fails the round and is probed again the next one, never taken for a v4
// node (found by the simulator: sim.TestSimRegressions).
func TestSyncProbeTimeoutDoesNotDemoteGoPeerToV4(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{})
	b := net.addNode(t, "b", syncNodeOpts{})
	d := &slowProbeDialer{PeerDialer: a.engine.dialer}
	a.engine.dialer = d
	a.engine.opts.StaticPeers = []string{b.addr}
	b.put(t, "c", "k", `{"b":1}`)

	d.slow.Store(true)
	require.Error(t, a.engine.SyncNow(ctx))
	require.Nil(t, a.engine.legacyState(b.addr), "b is not taken for a v4 node")
	require.Equal(t, "", a.body(t, "c", "k"))

	d.slow.Store(false)
	require.NoError(t, a.engine.SyncNow(ctx))
	require.Equal(t, `{"b":1}`, a.body(t, "c", "k"))
}
