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

// chainOf seals entries of one author in order, as its store would.
func chainOf(author string, wall int64, n int, prev string) []domain.Entry {
	out := make([]domain.Entry, n)
	for i := range out {
		e := domain.Entry{Collection: "c", Key: fmt.Sprintf("%s-%d", author, i), Op: domain.OpPut,
			Data: []byte(`{"i":` + fmt.Sprint(i) + `}`), Stamp: domain.Timestamp{Wall: wall, Logical: int32(i), Node: author}}
		e.Seal(prev)
		prev = e.Hash
		out[i] = e
	}
	return out
}

func TestSyncServicePullChangesPaging(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	n := net.addNode(t, "srv", syncNodeOpts{batch: 150})
	now := time.Now().UnixMilli()
	// 120 entries of x, then a group of 3 authors sharing (now+1, 0).
	_, err := n.db.ApplyRemote(ctx, chainOf("x", now, 120, ""))
	require.NoError(t, err)
	for _, a := range []string{"p", "q", "r"} {
		e := chainOf(a, now+1, 1, "")
		e[0].Collection = "other"
		_, err := n.db.ApplyRemote(ctx, e)
		require.NoError(t, err)
	}

	t.Run("a client that never asked for a clock gets at most 99", func(t *testing.T) {
		es, err := n.svc.PullChanges(ctx, ports.PeerInfo{NodeID: "old"}, ports.PullRequest{})
		require.NoError(t, err)
		assert.Len(t, es, 99)
		es, err = n.svc.PullChanges(ctx, ports.PeerInfo{NodeID: "new", AskedClock: true}, ports.PullRequest{})
		require.NoError(t, err)
		assert.Len(t, es, 123)
	})
	t.Run("since_node is ignored and the group after since is whole", func(t *testing.T) {
		for _, node := range []string{"", "x", "zzz"} {
			es, err := n.svc.PullChanges(ctx, ports.PeerInfo{AskedClock: true},
				ports.PullRequest{Since: domain.Timestamp{Wall: now, Logical: 119, Node: node}})
			require.NoError(t, err)
			require.Len(t, es, 3, "since node %q", node)
			for _, e := range es {
				assert.Equal(t, now+1, e.Stamp.Wall)
			}
		}
		es, err := n.svc.PullChanges(ctx, ports.PeerInfo{AskedClock: true},
			ports.PullRequest{Since: domain.Timestamp{Wall: now + 1, Logical: 0, Node: "p"}})
		require.NoError(t, err)
		assert.Empty(t, es, "the group of since is never served again, whatever its node")
	})
	t.Run("collections filter", func(t *testing.T) {
		es, err := n.svc.PullChanges(ctx, ports.PeerInfo{AskedClock: true}, ports.PullRequest{Collections: []string{"other"}})
		require.NoError(t, err)
		assert.Len(t, es, 3)
	})
	t.Run("GetClock is the newest stamp", func(t *testing.T) {
		ts, err := n.svc.GetClock(ctx, ports.PeerInfo{})
		require.NoError(t, err)
		assert.Equal(t, domain.Timestamp{Wall: now + 1, Logical: 0, Node: "r"}, ts)
	})
}

func TestSyncServicePushChangesChecksEachEntry(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	n := net.addNode(t, "srv", syncNodeOpts{})
	now := time.Now().UnixMilli()
	good := proven(chainOf("g", now, 3, "")...)
	badHash := chainOf("h", now, 1, "")
	badHash[0].Data = []byte(`{"tampered":true}`) // data is not hashed: still valid
	badHash[0].Key = "tampered"                   // the key is: hash mismatch
	future := chainOf("f", now+10*testMaxDrift, 1, "")
	gap := proven(chainOf("k", now, 3, "")[2:]...) // lacks its first two entries
	unchained := domain.Entry{Collection: "c", Key: "v4", Op: domain.OpPut, Data: []byte(`[1,2]`),
		Stamp: domain.Timestamp{Wall: now, Node: "ts-node"}}

	var batch []domain.Entry
	batch = append(batch, good...)
	batch = append(batch, badHash...)
	batch = append(batch, future...)
	batch = append(batch, gap...)
	batch = append(batch, unchained)
	// From a legacy (C#/TypeScript) peer, whose unchained entry is taken
	// unproven (sync_authors.go).
	snapReq, err := n.svc.PushChanges(ctx, ports.PeerInfo{NodeID: "peer", Legacy: true}, batch)
	require.ErrorIs(t, err, ports.ErrEntriesRefused, "refused entries are answered success=false")
	assert.Equal(t, domain.CodeSync, domain.CodeOf(err), "a refusal, not a failure of the session")
	assert.Contains(t, err.Error(), "2 of 7 entries refused")
	assert.False(t, snapReq, "a gap is not signalled to a family peer (it would fetch our snapshot every round): our rounds fill it")
	assert.Equal(t, int64(2), n.svc.Rejected())

	for _, e := range good {
		assert.Equal(t, `{"i":`+fmt.Sprint(e.Stamp.Logical)+`}`, n.body(t, "c", e.Key))
	}
	assert.Equal(t, `[1,2]`, n.body(t, "c", "v4"), "an unchained v4 entry is stored as sent")
	assert.Equal(t, "", n.body(t, "c", "tampered"))
	assert.Equal(t, "", n.body(t, "c", future[0].Key))
	assert.Equal(t, "", n.body(t, "c", gap[0].Key), "an entry past a gap is not applied")
	vc := n.vc(t)
	assert.NotContains(t, vc, "k")
	assert.NotContains(t, vc, "f")

	var msgs []string
	for _, e := range n.status.RecentErrors() {
		assert.Equal(t, "peer", e.Peer)
		assert.Equal(t, string(domain.CodeSync), e.Code)
		msgs = append(msgs, e.Message)
	}
	joined := strings.Join(msgs, "\n")
	assert.Contains(t, joined, "hash does not match")
	assert.Contains(t, joined, "ahead of local time")

	_, rejected := validateEntries(n.clock, domain.EntryLimits{}, future)
	require.Len(t, rejected, 1)
	assert.ErrorIs(t, rejected[0].err, domain.ErrSync)
	assert.ErrorIs(t, rejected[0].err, domain.ErrClockDrift)

	// Re-delivery is idempotent.
	snapReq, err = n.svc.PushChanges(ctx, ports.PeerInfo{NodeID: "peer"}, good)
	require.NoError(t, err)
	assert.False(t, snapReq)

	// The same unchained entry from a Go peer proves no author: refused.
	other := unchained
	other.Stamp.Node, other.Key = "other-node", "v4-go"
	_, err = n.svc.PushChanges(ctx, ports.PeerInfo{NodeID: "peer"}, []domain.Entry{other})
	require.ErrorIs(t, err, ports.ErrEntriesRefused)
	assert.Contains(t, err.Error(), "no proof of its author")
	assert.Equal(t, "", n.body(t, "c", "v4-go"))
}

func TestSyncServiceChainRangeAndSnapshot(t *testing.T) {
	ctx := context.Background()
	net := newSyncNet()
	n := net.addNode(t, "srv", syncNodeOpts{})
	big := strings.Repeat("x", 20_000)
	for i := range 12 {
		n.put(t, "c", fmt.Sprintf("k%d", i), fmt.Sprintf(`{"i":%d,"pad":%q}`, i, big))
	}
	n.del(t, "c", "k0")
	heads, err := n.store.Heads(ctx)
	require.NoError(t, err)

	es, snapReq, err := n.svc.GetChainRange(ctx, ports.PeerInfo{}, "", heads["srv"])
	require.NoError(t, err)
	assert.False(t, snapReq)
	assert.Len(t, es, 13)
	assert.Equal(t, -1, domain.VerifyChain("", es))

	sn, err := n.svc.GetSnapshot(ctx, ports.PeerInfo{})
	require.NoError(t, err)
	want, err := n.store.Snapshot(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, want.Documents, sn.Documents)
	assert.Equal(t, want.Heads, sn.Heads)
	assert.Equal(t, domain.VectorClock(want.VectorClock), domain.VectorClock(sn.VectorClock))

	_, err = n.store.Prune(ctx, time.Now().UnixMilli()+1)
	require.NoError(t, err)
	_, snapReq, err = n.svc.GetChainRange(ctx, ports.PeerInfo{}, "", heads["srv"])
	require.NoError(t, err)
	assert.True(t, snapReq, "pruned history → snapshot_required")
}

// snapshot_required goes only to peers that can use our snapshot: Go
// nodes, and family nodes that ask for clocks (the C# node, which is sent
// its SnapshotDto); never to a family client that never asked for one
// (the TypeScript node).
func TestSyncServiceSnapshotRequiredOnlyToThoseWhoCanUseIt(t *testing.T) {
	ctx := context.Background()
	n := newSyncNet().addNode(t, "srv", syncNodeOpts{})
	for name, tc := range map[string]struct {
		peer ports.PeerInfo
		want bool
	}{
		"go peer":              {ports.PeerInfo{NodeID: "g"}, true},
		"c# peer":              {ports.PeerInfo{NodeID: "c", Legacy: true, AskedClock: true}, true},
		"typescript pull-only": {ports.PeerInfo{NodeID: "t", Legacy: true}, false},
	} {
		t.Run(name, func(t *testing.T) {
			entries, snapReq, err := n.svc.GetChainRange(ctx, tc.peer, "unknown-start", "unknown-end")
			require.NoError(t, err)
			require.Empty(t, entries)
			require.Equal(t, tc.want, snapReq)
		})
	}
}
