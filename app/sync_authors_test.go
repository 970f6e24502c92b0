package app

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Issue 15's forgeries at the sync service and engine, on the memory store
// and memnet: each refused (success=false on a push, counted on a pull)
// while the honest entries beside it flow.

// forgery is a batch a member sends in another node's name.
type forgery struct {
	name string
	make func(t *testing.T, victim *syncNode, self *syncNode) []domain.Entry
	key  string // the key of the entry the forgery targets, unchanged after
}

// signedBy proves es (one author's run after prevLink) with key, as the
// holder of key would send it.
func signedBy(key ed25519.PrivateKey, prevLink []byte, es []domain.Entry) []domain.Entry {
	out := append([]domain.Entry(nil), es...)
	links := domain.LinkRun(prevLink, out)
	last := &out[len(out)-1]
	last.Proof = &domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), LinkBefore: prevLink,
		Signature: domain.SignHead(key, last.Author(), links[len(links)-1])}
	for i := range out {
		out[i].Link = nil
	}
	return out
}

// after seals ops as the next entries of node's chain.
func after(t *testing.T, node *syncNode, ops ...domain.Entry) []domain.Entry {
	t.Helper()
	heads, err := node.store.Heads(t.Context())
	require.NoError(t, err)
	prev := heads[node.id]
	vc := node.vc(t)
	wall := vc[node.id].Wall + 1
	out := make([]domain.Entry, len(ops))
	for i, e := range ops {
		e.Stamp = domain.Timestamp{Wall: wall + int64(i), Node: node.id}
		e.Seal(prev)
		prev = e.Hash
		out[i] = e
	}
	return out
}

func forgeries() []forgery {
	attacker := testKey("mallory")
	headLink := func(t *testing.T, n *syncNode) []byte {
		heads, err := n.store.Heads(t.Context())
		require.NoError(t, err)
		l, err := n.store.LinkOf(t.Context(), heads[n.id])
		require.NoError(t, err)
		return l
	}
	return []forgery{
		{"forged author", func(t *testing.T, v, _ *syncNode) []domain.Entry {
			return signedBy(attacker, headLink(t, v), after(t, v, domain.Entry{Collection: "c", Key: "k0", Op: domain.OpPut, Data: []byte(`{"forged":1}`)}))
		}, "k0"},
		{"forged mass delete", func(t *testing.T, v, _ *syncNode) []domain.Entry {
			var dels []domain.Entry
			for i := range 5 {
				dels = append(dels, domain.Entry{Collection: "c", Key: fmt.Sprintf("k%d", i), Op: domain.OpDelete})
			}
			return signedBy(attacker, headLink(t, v), after(t, v, dels...))
		}, "k1"},
		{"hashless for a known author", func(t *testing.T, v, _ *syncNode) []domain.Entry {
			e := after(t, v, domain.Entry{Collection: "c", Key: "k2", Op: domain.OpDelete})[0]
			e.Hash, e.PrevHash = "", ""
			return []domain.Entry{e}
		}, "k2"},
		{"document altered after signing", func(t *testing.T, v, _ *syncNode) []domain.Entry {
			es := signedBy(testKeyOf(t, v), headLink(t, v), after(t, v, domain.Entry{Collection: "c", Key: "k3", Op: domain.OpPut, Data: []byte(`{"v":2}`)}))
			es[0].Data = []byte(`{"v":"altered"}`)
			return es
		}, "k3"},
		{"our own node id", func(t *testing.T, _, self *syncNode) []domain.Entry {
			return signedBy(attacker, headLink(t, self), after(t, self, domain.Entry{Collection: "c", Key: "k4", Op: domain.OpDelete}))
		}, "k4"},
	}
}

// testKeyOf is the identity key a test node signs with (its database's).
func testKeyOf(t *testing.T, n *syncNode) ed25519.PrivateKey {
	t.Helper()
	return n.db.syncIdentity(nil)
}

// seeded builds a receiver "r" and a victim "v" whose five documents r
// holds (and whose key r pinned), on one memnet.
func seeded(t *testing.T) (*syncNet, *syncNode, *syncNode) {
	net := newSyncNet()
	r := net.addNode(t, "r", syncNodeOpts{})
	v := net.addNode(t, "v", syncNodeOpts{})
	r.engine.opts.StaticPeers = []string{v.addr}
	for i := range 5 {
		v.put(t, "c", fmt.Sprintf("k%d", i), `{"v":1}`)
		r.put(t, "c", fmt.Sprintf("own%d", i), `{"v":1}`)
	}
	require.NoError(t, r.engine.SyncNow(t.Context()))
	require.Equal(t, `{"v":1}`, r.body(t, "c", "k4"))
	// r's own documents k4 (a victim of "our own node id") too.
	r.put(t, "c", "k4", `{"v":1}`)
	return net, r, v
}

func TestSyncServiceRefusesForgeriesHonestFlow(t *testing.T) {
	for _, f := range forgeries() {
		t.Run(f.name, func(t *testing.T) {
			_, r, v := seeded(t)
			honest := proven(chainOf("honest", v.vc(t)[v.id].Wall, 2, "")...)
			batch := append(f.make(t, v, r), honest...)
			before := r.svc.Rejected()
			_, err := r.svc.PushChanges(t.Context(), ports.PeerInfo{NodeID: "mallory"}, batch)
			require.ErrorIs(t, err, ports.ErrEntriesRefused, "answered success=false")
			assert.Greater(t, r.svc.Rejected(), before)
			assert.Equal(t, `{"v":1}`, r.body(t, "c", f.key), "the forgery changed nothing")
			assert.Equal(t, `{"i":1}`, r.body(t, "c", "honest-1"), "honest entries in the same push flow")
			// The victim's next write still arrives.
			v.put(t, "c", "later", `{"v":3}`)
			require.NoError(t, r.engine.SyncNow(t.Context()))
			assert.Equal(t, `{"v":3}`, r.body(t, "c", "later"))
			assert.Positive(t, refusedBy(r, "mallory"))
		})
	}
}

// refusedBy is how many of peer's entries r refused as unauthorized.
func refusedBy(r *syncNode, peer string) int64 {
	for _, p := range r.status.Peers() {
		if p.NodeID == peer {
			return p.Refused["unauthorized"]
		}
	}
	return 0
}

// forgingHost serves a fixed page (pulls) beside a real node's handler.
type forgingHost struct {
	ports.SyncHandler
	page []domain.Entry
}

func (h forgingHost) GetVectorClock(context.Context, ports.PeerInfo) (domain.VectorClock, error) {
	vc := domain.VectorClock{}
	for _, e := range h.page {
		vc.Observe(e.Stamp)
	}
	return vc, nil
}

func (h forgingHost) PullChanges(_ context.Context, _ ports.PeerInfo, req ports.PullRequest) ([]domain.Entry, error) {
	var out []domain.Entry
	for _, e := range h.page {
		if e.Stamp.GroupAfter(req.Since) {
			out = append(out, e)
		}
	}
	return out, nil
}

func TestSyncPullRefusesForgeriesHonestFlow(t *testing.T) {
	for _, f := range forgeries() {
		t.Run(f.name, func(t *testing.T) {
			net, r, v := seeded(t)
			honest := proven(chainOf("honest", v.vc(t)[v.id].Wall, 2, "")...)
			page := append(f.make(t, v, r), honest...)
			net.Listen("m:1", "mallory", forgingHost{SyncHandler: v.svc, page: page})
			r.engine.opts.StaticPeers = []string{"m:1"}
			_ = r.engine.SyncNow(t.Context())
			assert.Equal(t, `{"v":1}`, r.body(t, "c", f.key), "the forgery changed nothing")
			assert.Equal(t, `{"i":1}`, r.body(t, "c", "honest-1"), "honest entries in the same page flow")
			assert.Positive(t, refusedBy(r, "mallory"))
		})
	}
}

// An entry signed by a key other than the one pinned for its author is
// refused, even a valid signature.
func TestSyncRefusesAnotherKeyThanThePinned(t *testing.T) {
	_, r, v := seeded(t)
	es := after(t, v, domain.Entry{Collection: "c", Key: "k0", Op: domain.OpDelete})
	wire := signedBy(testKey("v-other"), domain.LinkBefore(es[0].PrevHash, nil), es)
	_, err := r.svc.PushChanges(t.Context(), ports.PeerInfo{NodeID: "v"}, wire)
	require.ErrorIs(t, err, ports.ErrEntriesRefused)
	assert.Contains(t, err.Error(), "identity key other than")
	assert.Equal(t, `{"v":1}`, r.body(t, "c", "k0"))
}

// Three nodes in a line (a ↔ b ↔ c): c verifies a's entries relayed by b
// (b serves a's proofs) and keeps the links a's store computed.
func TestSyncRelayVerifies(t *testing.T) {
	ctx := t.Context()
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{batch: 7})
	b := net.addNode(t, "b", syncNodeOpts{batch: 7})
	c := net.addNode(t, "c", syncNodeOpts{batch: 7})
	b.engine.opts.StaticPeers = []string{a.addr}
	c.engine.opts.StaticPeers = []string{b.addr}
	for i := range 20 {
		a.put(t, "c", fmt.Sprintf("k%d", i), fmt.Sprintf(`{"i":%d}`, i))
	}
	require.NoError(t, b.engine.SyncNow(ctx))
	for i := 20; i < 25; i++ {
		a.put(t, "c", fmt.Sprintf("k%d", i), fmt.Sprintf(`{"i":%d}`, i))
	}
	require.NoError(t, b.engine.SyncNow(ctx))
	require.NoError(t, c.engine.SyncNow(ctx))
	requireConverged(t, []*syncNode{a, b, c})
	assert.Zero(t, c.engine.Stats().EntriesRejected)
	want, err := a.store.AuthorEntriesAfter(ctx, "a", domain.Timestamp{}, 100)
	require.NoError(t, err)
	got, err := c.store.AuthorEntriesAfter(ctx, "a", domain.Timestamp{}, 100)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].Link, got[i].Link, "entry %d", i)
		assert.False(t, got[i].Legacy)
	}
}

// A legacy (C#/TypeScript) peer's entries carry no proof: taken as legacy,
// and relayed marked so; a Go node takes them only with a legacy opt-in of
// its own, and never in the name of a node whose key it knows.
func TestSyncLegacyEntries(t *testing.T) {
	ctx := t.Context()
	net := newSyncNet()
	bridge := net.addNode(t, "bridge", syncNodeOpts{acceptLegacy: true})
	cs := net.addNode(t, "cs", syncNodeOpts{})
	strict := net.addNode(t, "strict", syncNodeOpts{})
	optIn := net.addNode(t, "opt-in", syncNodeOpts{acceptLegacy: true})
	net.SetLegacy("cs", true)
	bridge.engine.opts.StaticPeers = []string{cs.addr}
	strict.engine.opts.StaticPeers = []string{bridge.addr}
	optIn.engine.opts.StaticPeers = []string{bridge.addr}

	cs.put(t, "c", "from-cs", `{"v":1}`)
	require.NoError(t, bridge.engine.SyncNow(ctx))
	assert.Equal(t, `{"v":1}`, bridge.body(t, "c", "from-cs"))
	held, err := bridge.store.AuthorEntriesAfter(ctx, "cs", domain.Timestamp{}, 10)
	require.NoError(t, err)
	require.Len(t, held, 1)
	assert.True(t, held[0].Legacy)
	assert.Nil(t, held[0].Link)

	_ = strict.engine.SyncNow(ctx)
	assert.Equal(t, "", strict.body(t, "c", "from-cs"), "no opt-in: refused")
	assert.Positive(t, refusedBy(strict, "bridge"))
	require.NoError(t, optIn.engine.SyncNow(ctx))
	assert.Equal(t, `{"v":1}`, optIn.body(t, "c", "from-cs"), "with an opt-in: taken, as legacy")

	// A legacy peer writing in the name of a Go node the bridge knows.
	strict.put(t, "c", "from-strict", `{"v":1}`)
	bridge.engine.opts.StaticPeers = []string{strict.addr}
	require.NoError(t, bridge.engine.SyncNow(ctx))
	require.Equal(t, `{"v":1}`, bridge.body(t, "c", "from-strict"))
	forged := after(t, strict, domain.Entry{Collection: "c", Key: "from-strict", Op: domain.OpDelete})
	_, err = bridge.svc.PushChanges(ctx, ports.PeerInfo{NodeID: "cs", Legacy: true}, forged)
	require.ErrorIs(t, err, ports.ErrEntriesRefused, "legacy entries never rewrite a Go node's history")
	assert.Equal(t, `{"v":1}`, bridge.body(t, "c", "from-strict"))
}

// A node whose history of an author starts at a snapshot still proves
// that author's later entries to the next peer: the link before the first
// of them came with their proof and is kept. a keeps its whole history; b
// pruned its copy of it, and c bootstrapped from b's snapshot; d holds a's
// history and then learns a's new entries from c alone.
func TestSyncRelayAfterSnapshotProvesTheFirstEntry(t *testing.T) {
	ctx := t.Context()
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{})
	b := net.addNode(t, "b", syncNodeOpts{peers: []string{a.addr}})
	d := net.addNode(t, "d", syncNodeOpts{peers: []string{a.addr}})
	for i := range 10 {
		a.put(t, "c", fmt.Sprintf("k%d", i), fmt.Sprintf(`{"i":%d}`, i))
	}
	require.NoError(t, b.engine.SyncNow(ctx))
	require.NoError(t, d.engine.SyncNow(ctx))
	// Prune keeps the greatest seq: let that be b's own entry, so none of
	// a's history stays on b.
	b.put(t, "c", "from-b", `{}`)
	_, err := b.store.Prune(ctx, time.Now().UnixMilli()+1)
	require.NoError(t, err)
	held, err := b.store.AuthorEntriesAfter(ctx, "a", domain.Timestamp{}, 100)
	require.NoError(t, err)
	require.Empty(t, held)
	c := net.addNode(t, "c", syncNodeOpts{peers: []string{b.addr}})
	require.NoError(t, c.engine.SyncNow(ctx))
	require.Equal(t, int64(1), c.engine.Stats().Snapshots)

	a.put(t, "c", "after", `{"x":1}`)
	a.put(t, "c", "after2", `{"x":2}`)
	c.engine.opts.StaticPeers = []string{a.addr}
	require.NoError(t, c.engine.SyncNow(ctx))
	require.Equal(t, `{"x":2}`, c.body(t, "c", "after2"))

	d.engine.opts.StaticPeers = []string{c.addr}
	require.NoError(t, d.engine.SyncNow(ctx))
	assert.Equal(t, `{"x":1}`, d.body(t, "c", "after"), "c proved a's entries after its snapshot")
	assert.Equal(t, `{"x":2}`, d.body(t, "c", "after2"))
	assert.Zero(t, d.engine.Stats().EntriesRejected)
}
