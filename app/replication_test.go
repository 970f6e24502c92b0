package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func TestReplicationCountsWhatEachPeerLacks(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func(testing.TB) ports.Store) {
		e := newEnv(t, newStore, 1<<20, app.DatabaseOptions{})
		var versions []domain.Timestamp
		for _, k := range []string{"a", "b", "c", "d"} {
			v, err := e.db.Put(t.Context(), "users", k, []byte(`{}`), nil)
			require.NoError(t, err)
			versions = append(versions, v)
		}
		other := newRemoteAuthor("nodeZ")
		clocks := app.NewPeerClocks(nil)
		clocks.Observe("peerB", domain.VectorClock{"nodeA": versions[1], "nodeZ": other.entry("c", "k", domain.OpPut, `{}`).Stamp})
		clocks.Observe("peerC", domain.VectorClock{"nodeA": versions[3]})

		rep, err := app.Replication(t.Context(), "nodeA", e.store.(app.ReplicationStore), clocks)
		require.NoError(t, err)
		require.Equal(t, []string{"nodeA", "nodeZ"}, rep.Authors)
		require.Len(t, rep.Replicas, 3)
		self, b, c := rep.Replicas[0], rep.Replicas[1], rep.Replicas[2]
		require.True(t, self.Self)
		require.Equal(t, versions[3].String(), self.Held["nodeA"].Version)
		require.Equal(t, "peerB", b.NodeID)
		require.Equal(t, 4, self.Held["nodeA"].Entries)
		require.Equal(t, 2, b.Held["nodeA"].Behind, "peerB holds a and b of four")
		require.Equal(t, 2, b.Held["nodeA"].Entries)
		require.NotEmpty(t, b.Held["nodeZ"].Version, "a peer may hold an author we do not")
		require.Equal(t, "peerC", c.NodeID)
		require.Zero(t, c.Held["nodeA"].Behind)
		require.Empty(t, c.Held["nodeZ"].Version)
	})
}
