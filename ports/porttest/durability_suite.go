package porttest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// OpenStoreAt opens the persistent store kept in dir. Unlike OpenStore it
// must not register Close: the durability suite closes and reopens itself.
type OpenStoreAt func(t *testing.T, dir string) ports.Store

// RunDurabilitySuite checks that a persistent store keeps everything across
// Close and reopen with the same dir.
func RunDurabilitySuite(t *testing.T, open OpenStoreAt) {
	t.Run("PeerKeysSurviveReopen", func(t *testing.T) { peerKeysSurviveReopen(t, open) })
	t.Run("LinksSurviveReopen", func(t *testing.T) { linksSurviveReopen(t, open) })
	t.Run("ReopenKeepsEverything", func(t *testing.T) {
		dir := t.TempDir()
		ctx := t.Context()
		s := open(t, dir)
		closed := false
		t.Cleanup(func() {
			if !closed {
				_ = s.Close()
			}
		})
		local := mustCommit(t, s, lww,
			putW("users", "u1", `{"name": "ann", "age": 31}`, ts(1, 0, "A")),
			putW("users", "u2", `{"name":"bob"}`, ts(1, 1, "A")))
		mustCommit(t, s, lww, delW("users", "u2", ts(2, 0, "A")))
		b := newAuthor("B")
		remote := []domain.Entry{b.put("items", "i1", `[1,2]`, 3, 0), b.put("items", "i2", `{"x":1}`, 4, 0)}
		mustApply(t, s, lww, remote...)
		require.NoError(t, s.EnsureIndex(ctx, "users", "age"))
		peer := domain.Peer{NodeID: "n1", Address: "127.0.0.1:5001", Source: domain.PeerStatic, Interests: []string{"users"}, LastSeen: baseWall}
		require.NoError(t, s.SavePeer(ctx, peer))
		require.NoError(t, s.SetMeta(ctx, "node_id", "A"))

		feedBefore, err := s.EntriesSinceSeq(ctx, 0, 0)
		require.NoError(t, err)
		headsBefore, err := s.Heads(ctx)
		require.NoError(t, err)
		vcBefore, err := s.VectorClock(ctx)
		require.NoError(t, err)
		require.NoError(t, s.Close())
		closed = true

		s2 := open(t, dir)
		t.Cleanup(func() { _ = s2.Close() })
		requireDoc(t, s2, "users", "u1", `{"name": "ann", "age": 31}`, local[0].Stamp)
		requireNotFound(t, s2, "users", "u2")
		requireDoc(t, s2, "items", "i1", `[1,2]`, remote[0].Stamp)
		feed, err := s2.EntriesSinceSeq(ctx, 0, 0)
		require.NoError(t, err)
		sameEntries(t, feedBefore, feed)
		for i := range feed {
			require.Equal(t, feedBefore[i].Seq, feed[i].Seq)
		}
		heads, err := s2.Heads(ctx)
		require.NoError(t, err)
		require.Equal(t, headsBefore, heads)
		vc, err := s2.VectorClock(ctx)
		require.NoError(t, err)
		require.Equal(t, vcBefore, vc)
		newest, err := s2.NewestStamp(ctx)
		require.NoError(t, err)
		require.Equal(t, remote[1].Stamp, newest)
		ps, err := s2.Peers(ctx)
		require.NoError(t, err)
		require.Equal(t, []domain.Peer{peer}, ps)
		v, ok, err := s2.GetMeta(ctx, "node_id")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "A", v)
		require.NoError(t, s2.EnsureIndex(ctx, "users", "age"))
		got, err := s2.Find(ctx, "users", domain.Query{Filter: domain.Cmp{Op: domain.OpGt, Path: "age", Value: 30}})
		require.NoError(t, err)
		require.Equal(t, []string{"u1"}, docKeys(got))

		// Seq and chains continue after the restart.
		out := mustCommit(t, s2, lww, putW("users", "u3", `{}`, ts(5, 0, "A")))
		require.Greater(t, out[0].Seq, feed[len(feed)-1].Seq)
		require.Equal(t, headsBefore["A"], out[0].PrevHash)
	})
}
