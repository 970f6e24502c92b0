package porttest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func countEntries(t *testing.T, s ports.Store, author string, since domain.Timestamp, seqAfter, seqUpTo int64) int {
	t.Helper()
	n, err := s.CountAuthorEntries(t.Context(), author, since, seqAfter, seqUpTo)
	require.NoError(t, err)
	return n
}

var countCases = []storeCase{
	{"CountAuthorEntries", func(t *testing.T, open OpenStore) {
		s := open(t)
		require.Zero(t, countEntries(t, s, "A", domain.Timestamp{}, 0, 1<<62))
		var local []domain.Entry
		for i := range 4 {
			local = append(local, mustCommit(t, s, lww, putW("c", fmt.Sprint(i), `{}`, ts(int64(i), 0, "A")))...)
		}
		b := newAuthor("B")
		mustApply(t, s, lww, b.put("c", "x", `{}`, 10, 0), b.put("c", "y", `{}`, 11, 0))
		last, err := s.LastSeq(t.Context())
		require.NoError(t, err)
		require.Equal(t, 4, countEntries(t, s, "A", domain.Timestamp{}, 0, last), "every entry of A, none of B")
		require.Equal(t, 2, countEntries(t, s, "B", domain.Timestamp{}, 0, last))
		require.Equal(t, 2, countEntries(t, s, "A", local[1].Stamp, 0, last), "strictly after the stamp")
		require.Equal(t, 1, countEntries(t, s, "A", domain.Timestamp{}, local[2].Seq, local[3].Seq), "only the seq range")
		require.Zero(t, countEntries(t, s, "A", local[3].Stamp, 0, last))
	}},
}

var peerCases = []storeCase{
	{"SaveListRemove", func(t *testing.T, open OpenStore) {
		s := open(t)
		ps, err := s.Peers(t.Context())
		require.NoError(t, err)
		require.Empty(t, ps)
		p2 := domain.Peer{NodeID: "n2", Address: "127.0.0.1:5002", Source: domain.PeerStatic, LastSeen: baseWall}
		p1 := domain.Peer{NodeID: "n1", Address: "127.0.0.1:5001", Source: domain.PeerDiscovered, Interests: []string{"users", "items"}, LastSeen: baseWall + 5}
		require.NoError(t, s.SavePeer(t.Context(), p2))
		require.NoError(t, s.SavePeer(t.Context(), p1))
		// Decision: Peers lists by NodeID.
		ps, err = s.Peers(t.Context())
		require.NoError(t, err)
		require.Len(t, ps, 2)
		require.Equal(t, p1, ps[0])
		require.Equal(t, "n2", ps[1].NodeID)
		require.Equal(t, p2.Address, ps[1].Address)
		require.Equal(t, p2.Source, ps[1].Source)
		require.Empty(t, ps[1].Interests)
		require.Equal(t, p2.LastSeen, ps[1].LastSeen)

		// Saving the same NodeID replaces the peer.
		p1b := domain.Peer{NodeID: "n1", Address: "127.0.0.1:6001", Source: domain.PeerStatic, Interests: []string{"x"}, LastSeen: baseWall + 9}
		require.NoError(t, s.SavePeer(t.Context(), p1b))
		ps, err = s.Peers(t.Context())
		require.NoError(t, err)
		require.Len(t, ps, 2)
		require.Equal(t, p1b, ps[0])

		require.NoError(t, s.RemovePeer(t.Context(), "n1"))
		require.NoError(t, s.RemovePeer(t.Context(), "unknown"))
		ps, err = s.Peers(t.Context())
		require.NoError(t, err)
		require.Len(t, ps, 1)
		require.Equal(t, "n2", ps[0].NodeID)
	}},
	{"CallerSlicesNotRetained", func(t *testing.T, open OpenStore) {
		s := open(t)
		p := domain.Peer{NodeID: "n1", Address: "127.0.0.1:5001", Interests: []string{"users"}}
		require.NoError(t, s.SavePeer(t.Context(), p))
		p.Interests[0] = "changed"
		ps, err := s.Peers(t.Context())
		require.NoError(t, err)
		require.Equal(t, []string{"users"}, ps[0].Interests)
	}},
}

var metaCases = []storeCase{
	{"GetSet", func(t *testing.T, open OpenStore) {
		s := open(t)
		v, ok, err := s.GetMeta(t.Context(), "node_id")
		require.NoError(t, err)
		require.False(t, ok)
		require.Empty(t, v)
		require.NoError(t, s.SetMeta(t.Context(), "node_id", "n1"))
		require.NoError(t, s.SetMeta(t.Context(), "last_clock", "1:0:n1"))
		require.NoError(t, s.SetMeta(t.Context(), "last_clock", "2:0:n1"))
		require.NoError(t, s.SetMeta(t.Context(), "empty", ""))
		for k, want := range map[string]string{"node_id": "n1", "last_clock": "2:0:n1", "empty": ""} {
			v, ok, err := s.GetMeta(t.Context(), k)
			require.NoError(t, err)
			require.True(t, ok, k)
			require.Equal(t, want, v, k)
		}
	}},
	{"Ping", func(t *testing.T, open OpenStore) {
		s := open(t)
		require.NoError(t, s.Ping(t.Context()))
	}},
}
