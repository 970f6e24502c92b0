package porttest

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// peerKeysCases are the ports.PeerKeys contract, run for stores that
// implement it.
var peerKeysCases = []storeCase{
	{"FirstKeyRecordedSameAcceptedOtherRefused", func(t *testing.T, open OpenStore) {
		pk := peerKeysOf(t, open(t))
		ctx := t.Context()
		k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
		require.NoError(t, pk.CheckPeerKey(ctx, "n1", k1), "the first key is recorded")
		require.NoError(t, pk.CheckPeerKey(ctx, "n1", k1), "the same key again is accepted")
		err := pk.CheckPeerKey(ctx, "n1", k2)
		require.ErrorIs(t, err, domain.ErrUnauthorized, "another key for a known node id is refused")
		require.NoError(t, pk.CheckPeerKey(ctx, "n1", k1), "the recorded key is kept")
		require.NoError(t, pk.CheckPeerKey(ctx, "n2", k2), "node ids are independent")
	}},
	{"CallerMayReuseKeyBuffer", func(t *testing.T, open OpenStore) {
		pk := peerKeysOf(t, open(t))
		ctx := t.Context()
		k := bytes.Repeat([]byte{7}, 32)
		require.NoError(t, pk.CheckPeerKey(ctx, "n1", k))
		k[0] = 8
		require.ErrorIs(t, pk.CheckPeerKey(ctx, "n1", k), domain.ErrUnauthorized, "the store keeps its own copy")
	}},
	{"EmptyArgumentsRefused", func(t *testing.T, open OpenStore) {
		pk := peerKeysOf(t, open(t))
		ctx := t.Context()
		require.ErrorIs(t, pk.CheckPeerKey(ctx, "", []byte{1}), domain.ErrInvalidArgument)
		require.ErrorIs(t, pk.CheckPeerKey(ctx, "n1", nil), domain.ErrInvalidArgument)
	}},
}

func peerKeysOf(t *testing.T, s ports.Store) ports.PeerKeys {
	t.Helper()
	pk, ok := s.(ports.PeerKeys)
	if !ok {
		t.Skip("store does not implement ports.PeerKeys")
	}
	return pk
}

// peerKeysSurviveReopen is the durability case: the recorded key is still
// the one enforced after Close and reopen.
func peerKeysSurviveReopen(t *testing.T, open OpenStoreAt) {
	dir := t.TempDir()
	ctx := t.Context()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	s := open(t, dir)
	pk, ok := s.(ports.PeerKeys)
	if !ok {
		_ = s.Close()
		t.Skip("store does not implement ports.PeerKeys")
	}
	require.NoError(t, pk.CheckPeerKey(ctx, "n1", k1))
	require.NoError(t, s.Close())

	s2 := open(t, dir)
	t.Cleanup(func() { _ = s2.Close() })
	pk2 := s2.(ports.PeerKeys)
	require.ErrorIs(t, pk2.CheckPeerKey(ctx, "n1", k2), domain.ErrUnauthorized)
	require.NoError(t, pk2.CheckPeerKey(ctx, "n1", k1))
}
