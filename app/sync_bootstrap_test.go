package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// snapshotForger serves a real node's data, with its JSON snapshot
// altered.
type snapshotForger struct {
	ports.SyncHandler
	forge func(domain.Snapshot) domain.Snapshot
}

func (h snapshotForger) GetSnapshot(ctx context.Context, peer ports.PeerInfo) (domain.Snapshot, error) {
	sn, err := h.SyncHandler.GetSnapshot(ctx, peer)
	return h.forge(sn), err
}

// A family peer's JSON snapshot (legacy opt-in) is still taken, but what
// it carries in the name of a node whose key we know (a Go node, or
// ourselves) is dropped: legacy data never rewrites a Go node's history.
func TestLegacySnapshotNeverRewritesAGoNodesHistory(t *testing.T) {
	ctx := t.Context()
	net := newSyncNet()
	strict := net.addNode(t, "strict", syncNodeOpts{})
	g := net.addNode(t, "g", syncNodeOpts{acceptLegacy: true, peers: []string{strict.addr}})
	cs := net.addNode(t, "cs", syncNodeOpts{})
	strict.put(t, "c", "k", `{"v":1}`)
	require.NoError(t, g.engine.SyncNow(ctx))
	require.Equal(t, `{"v":1}`, g.body(t, "c", "k"))
	vcBefore := g.vc(t)

	// The family node's history is pruned: g can take it only from its
	// snapshot, which someone stuffed with writes in Go nodes' names.
	for i := range 5 {
		cs.put(t, "c", fmt.Sprintf("from-cs-%d", i), fmt.Sprintf(`{"i":%d}`, i))
	}
	_, err := cs.store.Prune(ctx, time.Now().UnixMilli()+1)
	require.NoError(t, err)
	ahead := time.Now().Add(10 * time.Second).UnixMilli()
	forge := func(sn domain.Snapshot) domain.Snapshot {
		for _, author := range []string{"strict", "g"} {
			ts := domain.Timestamp{Wall: ahead, Node: author}
			sn.Documents = append(sn.Documents, domain.Document{Collection: "c", Key: "k", Data: []byte(`{"forged":"` + author + `"}`), Stamp: ts},
				domain.Document{Collection: "c", Key: "by-" + author, Data: []byte(`{}`), Stamp: ts})
			sn.VectorClock[author] = ts
			sn.Heads[author] = strings.Repeat("ab", 32)
		}
		return sn
	}
	net.Listen("fam:1", "fam", snapshotForger{SyncHandler: cs.svc, forge: forge})
	net.SetLegacy("fam", true)
	g.engine.opts.StaticPeers = []string{"fam:1"}
	_ = g.engine.SyncNow(ctx)

	require.Positive(t, g.engine.Stats().Snapshots, "the family snapshot was taken")
	for i := range 5 {
		assert.Equal(t, fmt.Sprintf(`{"i":%d}`, i), g.body(t, "c", fmt.Sprintf("from-cs-%d", i)), "the family's documents")
	}
	assert.Equal(t, `{"v":1}`, g.body(t, "c", "k"), "a Go node's document is not rewritten")
	assert.Empty(t, g.body(t, "c", "by-strict"))
	assert.Empty(t, g.body(t, "c", "by-g"), "nor one in our own name")
	vc := g.vc(t)
	assert.Equal(t, vcBefore["strict"], vc["strict"], "the Go author's clock did not move")
	assert.NotContains(t, vc, "g")
	heads, err := g.store.Heads(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, strings.Repeat("ab", 32), heads["strict"])
	assert.Positive(t, refusedBy(g, "fam"), "the dropped documents are reported")
}
