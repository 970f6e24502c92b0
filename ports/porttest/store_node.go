package porttest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func pending(key string, i int) domain.PendingOperation {
	return domain.PendingOperation{
		Op: domain.OpPut, Collection: "c", Key: key, Data: fmt.Appendf(nil, `{"i":%d}`, i),
		Stamp: ts(int64(i), 0, "A"), QueuedAt: baseWall + int64(i),
	}
}

func peekKeys(t *testing.T, s ports.Store, n int) []string {
	t.Helper()
	ops, err := s.Peek(t.Context(), n)
	require.NoError(t, err)
	keys := make([]string, len(ops))
	for i := range ops {
		keys[i] = ops[i].Key
	}
	return keys
}

func queueLen(t *testing.T, s ports.Store) int {
	t.Helper()
	n, err := s.QueueLen(t.Context())
	require.NoError(t, err)
	return n
}

var queueCases = []storeCase{
	{"EnqueuePeekInOrder", func(t *testing.T, open OpenStore) {
		s := open(t)
		require.Zero(t, queueLen(t, s))
		require.Empty(t, peekKeys(t, s, 10))
		var ids []int64
		for i, k := range []string{"b", "a", "c"} {
			in := pending(k, i)
			got, err := s.Enqueue(t.Context(), in, 0)
			require.NoError(t, err)
			require.Positive(t, got.ID)
			ids = append(ids, got.ID)
			in.ID = got.ID
			require.Equal(t, in, got)
		}
		require.Less(t, ids[0], ids[1])
		require.Less(t, ids[1], ids[2])
		require.Equal(t, 3, queueLen(t, s))
		require.Equal(t, []string{"b", "a"}, peekKeys(t, s, 2))
		require.Equal(t, []string{"b", "a", "c"}, peekKeys(t, s, 10))
		ops, err := s.Peek(t.Context(), 3)
		require.NoError(t, err)
		for i, op := range ops {
			want := pending([]string{"b", "a", "c"}[i], i)
			want.ID = ids[i]
			require.Equal(t, want, op, "every field survives the queue")
		}
		// Peek does not remove.
		require.Equal(t, 3, queueLen(t, s))
		del := domain.PendingOperation{Op: domain.OpDelete, Collection: "c", Key: "d", Stamp: ts(9, 0, "A"), QueuedAt: 1}
		got, err := s.Enqueue(t.Context(), del, 0)
		require.NoError(t, err)
		ops, err = s.Peek(t.Context(), 4)
		require.NoError(t, err)
		require.Equal(t, got.ID, ops[3].ID)
		require.Equal(t, domain.OpDelete, ops[3].Op)
		require.Empty(t, ops[3].Data)
	}},
	{"QueueFull", func(t *testing.T, open OpenStore) {
		s := open(t)
		for i := range 3 {
			_, err := s.Enqueue(t.Context(), pending(fmt.Sprint(i), i), 3)
			require.NoError(t, err)
		}
		// Full: QUEUE_FULL, and nothing queued is dropped or replaced.
		_, err := s.Enqueue(t.Context(), pending("x", 9), 3)
		requireCode(t, err, domain.CodeQueueFull)
		require.ErrorIs(t, err, domain.ErrQueueFull)
		require.Equal(t, 3, queueLen(t, s))
		require.Equal(t, []string{"0", "1", "2"}, peekKeys(t, s, 10))
		// "max or more": a smaller bound than the current length also refuses.
		_, err = s.Enqueue(t.Context(), pending("x", 9), 2)
		requireCode(t, err, domain.CodeQueueFull)
		// max <= 0 is unbounded.
		_, err = s.Enqueue(t.Context(), pending("y", 10), 0)
		require.NoError(t, err)
		_, err = s.Enqueue(t.Context(), pending("z", 11), -1)
		require.NoError(t, err)
		require.Equal(t, []string{"0", "1", "2", "y", "z"}, peekKeys(t, s, 10))
	}},
	{"Ack", func(t *testing.T, open OpenStore) {
		s := open(t)
		var ids []int64
		for i := range 5 {
			op, err := s.Enqueue(t.Context(), pending(fmt.Sprint(i), i), 0)
			require.NoError(t, err)
			ids = append(ids, op.ID)
		}
		require.NoError(t, s.Ack(t.Context(), ids[3], ids[1]))
		require.Equal(t, []string{"0", "2", "4"}, peekKeys(t, s, 10))
		require.Equal(t, 3, queueLen(t, s))
		// Decision: acking ids no longer queued (or none) is a no-op, so a
		// retried flush cannot fail.
		require.NoError(t, s.Ack(t.Context(), ids[3], 1_000_000))
		require.NoError(t, s.Ack(t.Context()))
		require.Equal(t, 3, queueLen(t, s))
		// Order survives later enqueues.
		_, err := s.Enqueue(t.Context(), pending("5", 5), 0)
		require.NoError(t, err)
		require.Equal(t, []string{"0", "2", "4", "5"}, peekKeys(t, s, 10))
		require.NoError(t, s.Ack(t.Context(), ids[0]))
		require.Equal(t, []string{"2"}, peekKeys(t, s, 1))
	}},
	{"Clear", func(t *testing.T, open OpenStore) {
		s := open(t)
		for i := range 3 {
			_, err := s.Enqueue(t.Context(), pending(fmt.Sprint(i), i), 0)
			require.NoError(t, err)
		}
		require.NoError(t, s.ClearQueue(t.Context()))
		require.Zero(t, queueLen(t, s))
		require.Empty(t, peekKeys(t, s, 10))
		require.NoError(t, s.ClearQueue(t.Context()))
		a, err := s.Enqueue(t.Context(), pending("a", 1), 1)
		require.NoError(t, err)
		_, err = s.Enqueue(t.Context(), pending("b", 2), 1)
		requireCode(t, err, domain.CodeQueueFull)
		b, err := s.Enqueue(t.Context(), pending("b", 2), 0)
		require.NoError(t, err)
		require.Less(t, a.ID, b.ID)
		require.Equal(t, []string{"a", "b"}, peekKeys(t, s, 10))
	}},
	{"IndependentOfDocuments", func(t *testing.T, open OpenStore) {
		// Queued operations are not writes: they touch neither documents
		// nor the oplog.
		s := open(t)
		_, err := s.Enqueue(t.Context(), pending("k", 1), 0)
		require.NoError(t, err)
		requireEmptyStore(t, s)
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
