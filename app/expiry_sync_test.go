package app

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// An expiring write replicates with its expiry (the author's proof covers
// it), disappears on every node once due, is collected by compaction, and
// an older version from a returning peer does not bring it back.
func TestSyncExpiryVisibleOnEveryNodeThenCollected(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	nodes := net.mesh(t, 2, syncNodeOpts{})
	a, b := nodes[0], nodes[1]
	now := time.Now()
	later := now.Add(2 * time.Hour)
	for _, n := range nodes {
		n.store.SetClock(func() time.Time { return now })
	}
	// An older version by a peer that will come back late.
	r := newRemoteAuthorIn("returning")
	old := r.entry("sess", "s1", `{"old":true}`)

	exp := now.Add(time.Hour)
	_, err := a.db.PutWith(ctx, "sess", "s1", []byte(`{"user":"ann"}`), PutOptions{ExpiresAt: exp})
	require.NoError(t, err)
	a.put(t, "sess", "keep", `{}`) // the author's head: heads always stay
	require.NoError(t, a.engine.SyncNow(ctx))
	d, err := b.db.Get(ctx, "sess", "s1")
	require.NoError(t, err)
	require.Equal(t, exp.UnixMilli(), d.ExpiresAt, "the expiry replicates exactly")
	requireConverged(t, nodes)

	for _, n := range nodes {
		n.store.SetClock(func() time.Time { return later })
		require.Equal(t, "", n.body(t, "sess", "s1"), n.id)
		cnt, err := n.db.Count(ctx, "sess", nil)
		require.NoError(t, err)
		require.Equal(t, 1, cnt, n.id)
		held, err := n.store.VectorClock(ctx)
		require.NoError(t, err)
		res, err := n.store.Compact(ctx, domain.CompactionPolicy{HeldByAll: held, Now: later.UnixMilli()})
		require.NoError(t, err)
		require.Equal(t, 1, res.TombstonesRemoved, "%s collects the expired document", n.id)
	}
	_, err = b.db.ApplyRemote(ctx, []domain.Entry{old})
	require.NoError(t, err)
	require.Equal(t, "", b.body(t, "sess", "s1"), "an older version does not resurrect it")
}

// newRemoteAuthorIn makes entries of another node stamped well before now.
func newRemoteAuthorIn(node string) *testAuthor {
	return &testAuthor{node: node, wall: time.Now().Add(-time.Minute).UnixMilli()}
}

type testAuthor struct {
	node string
	wall int64
	prev string
}

func (a *testAuthor) entry(collection, key, data string) domain.Entry {
	e := domain.Entry{Collection: collection, Key: key, Op: domain.OpPut, Data: []byte(data), Stamp: domain.Timestamp{Wall: a.wall, Node: a.node}}
	e.Seal(a.prev)
	a.prev = e.Hash
	return e
}
