package app

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A queued operation the peer refuses was delivered: it leaves the queue
// (and the refusal is reported) instead of being re-sent on every flush
// forever. One whose push fails on the network stays queued.
func TestSyncOfflineFlushDropsRefusedKeepsUndelivered(t *testing.T) {
	ctx := context.Background()
	net, s, b, pushRefusals := newPusher(t)
	s.skew.Store(2 * testMaxDrift) // b refuses s's entries: clock drift
	s.engine.enqueueOffline(ctx, s.localEntries(t, s.put(t, "c", "k", `{"skewed":true}`)))
	flushToB := func() {
		sess, err := net.Dialer(s.id).Dial(ctx, b.addr)
		require.NoError(t, err)
		defer sess.Close()
		s.engine.flushQueue(ctx, sess)
	}

	// The session breaks before the push: a network failure.
	sess, err := net.Dialer(s.id).Dial(ctx, b.addr)
	require.NoError(t, err)
	net.setDown(b.addr, true)
	s.engine.flushQueue(ctx, sess)
	require.NoError(t, sess.Close())
	n, err := s.queue.Len(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "not delivered: still queued")
	assert.Zero(t, pushRefusals.pushes)

	net.setDown(b.addr, false)
	pushes := b.pushes.Load()
	flushToB()
	assert.Equal(t, int64(1), b.pushes.Load()-pushes, "the queued operation reached b")
	n, err = s.queue.Len(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "refused by b: no longer queued")
	assert.Equal(t, 1, pushRefusals.pushes, "the refused push is counted")
	assert.Equal(t, "", b.body(t, "c", "k"))

	flushToB()
	assert.Equal(t, int64(1), b.pushes.Load()-pushes, "a later flush sends nothing again")
}
