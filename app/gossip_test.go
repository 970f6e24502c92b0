package app

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A gossip push the peer answers success=false reached it: the node stays
// online and the refusal is reported as a round's is. The peer does not
// hold the change, so it is still counted as unconfirmed.
func TestSyncGossipRefusedByPeerIsReportedNotConfirmed(t *testing.T) {
	ctx := context.Background()
	_, s, b, pushRefusals := newPusher(t)
	s.skew.Store(2 * testMaxDrift) // b refuses s's entries: clock drift
	es := s.localEntries(t, s.put(t, "c", "k", `{"skewed":true}`))

	s.engine.pushGossip(ctx, es)
	assert.Equal(t, int64(1), b.pushes.Load(), "the push reached b")
	assert.Equal(t, "", b.body(t, "c", "k"), "b refused it")
	n, err := s.queue.Len(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "a refused change is not confirmed by the peer")
	assert.True(t, s.status.Online(), "b answered: s is online")
	assert.Equal(t, 1, pushRefusals.pushes, "the refused push is counted")
	assert.Equal(t, int64(1), peerByID(t, b.status.Peers(), "s").Refused["clock_drift"])
}

// A change no peer could be reached for is counted; one a peer took is not.
func TestSyncGossipCountsWhatNoPeerConfirmed(t *testing.T) {
	ctx := context.Background()
	net, s, b, pushRefusals := newPusher(t)
	net.setDown(b.addr, true)
	es := s.localEntries(t, s.put(t, "c", "k", `{"v":1}`))

	s.engine.pushGossip(ctx, es)
	n, err := s.queue.Len(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, s.status.Online())
	assert.Zero(t, pushRefusals.pushes)

	net.setDown(b.addr, false)
	es = s.localEntries(t, s.put(t, "c", "k2", `{"v":2}`))
	s.engine.pushGossip(ctx, es)
	n, err = s.queue.Len(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "b holds k2, and k before it (a chain links only in order)")
	assert.Equal(t, `{"v":1}`, b.body(t, "c", "k"))
}

// newPusher builds node s, with an offline queue and b as its only peer,
// and b; the counter receives s's refused pushes.
func newPusher(t *testing.T) (*syncNet, *syncNode, *syncNode, *countingRefusals) {
	t.Helper()
	net := newSyncNet()
	s := net.addNode(t, "s", syncNodeOpts{queue: true, peers: []string{"b:1"}})
	b := net.addNode(t, "b", syncNodeOpts{})
	pushRefusals := &countingRefusals{}
	s.status.opts.Replication = pushRefusals
	return net, s, b, pushRefusals
}
