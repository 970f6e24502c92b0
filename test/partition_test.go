package test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A node cut off from its peers keeps taking writes; so do they. Once the
// partition heals, every node holds both sides' writes at one version.
func TestPartitionedNodeConvergesAfterHeal(t *testing.T) {
	ctx := context.Background()
	nodes := startMesh(t, 3, nodeSpec{NodeID: "part"})
	left, cut := nodes[0], nodes[2]
	_, err := left.Client().Put(ctx, "c", "before", []byte(`{"side":"both"}`))
	require.NoError(t, err)
	for _, n := range nodes {
		eventually(t, 10*time.Second, n.HTTPAddr+" has the first write", func() bool { return n.has("c", "before") })
	}

	_, err = cut.Isolate(ctx, readyWithin)
	require.NoError(t, err)
	_, err = left.Client().Put(ctx, "c", "left", []byte(`{"side":"left"}`))
	require.NoError(t, err)
	_, err = cut.Client().Put(ctx, "c", "cut", []byte(`{"side":"cut"}`))
	require.NoError(t, err, "an isolated node keeps taking writes")
	// The connected side syncs; the cut node sees none of it, nor they its write.
	eventually(t, 10*time.Second, "the left write on the connected peer", func() bool { return nodes[1].has("c", "left") })
	require.False(t, cut.has("c", "left"), "the partition is real")
	require.False(t, left.has("c", "cut"), "the partition is real")

	require.NoError(t, cut.Heal(ctx, stopWithin, readyWithin))
	for _, n := range nodes {
		eventually(t, 20*time.Second, n.HTTPAddr+" holds both sides' writes", func() bool {
			return n.has("c", "left") && n.has("c", "cut")
		})
	}
	want, err := left.Client().Get(ctx, "c", "cut")
	require.NoError(t, err)
	for _, n := range nodes {
		got, err := n.Client().Get(ctx, "c", "cut")
		require.NoError(t, err)
		require.Equal(t, want.Version, got.Version, n.HTTPAddr)
		require.JSONEq(t, `{"side":"cut"}`, string(got.Data))
	}
}
