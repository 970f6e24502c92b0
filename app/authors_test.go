package app

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// fakeProofs is a store's proof keeping in a few maps: the links and
// proofs of the entries it holds, and the pinned peer keys.
type fakeProofs struct {
	mu       sync.Mutex
	entries  map[string][]domain.Entry // author → chain order, with Link and Proof
	pins     map[string][]byte
	setProof int
	checks   int
}

func newFakeProofs() *fakeProofs {
	return &fakeProofs{entries: map[string][]domain.Entry{}, pins: map[string][]byte{}}
}

// hold keeps entries (one author's, in chain order, Link set) as a store would.
func (f *fakeProofs) hold(entries ...domain.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range entries {
		f.entries[e.Author()] = append(f.entries[e.Author()], e)
	}
}

func (f *fakeProofs) LinkOf(_ context.Context, hash string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, es := range f.entries {
		for _, e := range es {
			if e.Hash == hash {
				return e.Link, nil
			}
		}
	}
	return nil, nil
}

func (f *fakeProofs) ProofAfter(_ context.Context, author string, after domain.Timestamp) ([][]byte, *domain.AuthorProof, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var tail [][]byte
	for _, e := range f.entries[author] {
		if !e.Stamp.After(after) {
			continue
		}
		if e.Link == nil {
			return nil, nil, nil
		}
		tail = append(tail, domain.EntryDigest(&e))
		if e.Proof != nil {
			p := *e.Proof
			return tail, &p, nil
		}
	}
	return nil, nil, nil
}

func (f *fakeProofs) SetProof(_ context.Context, hash string, proof domain.AuthorProof) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setProof++
	proof.LinkBefore = nil
	for _, es := range f.entries {
		for i := range es {
			if es[i].Hash == hash {
				es[i].Proof = &proof
			}
		}
	}
	return nil
}

func (f *fakeProofs) CheckPeerKey(_ context.Context, nodeID string, key []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	if k, ok := f.pins[nodeID]; ok {
		return ports.ComparePeerKey("fake", nodeID, k, key)
	}
	f.pins[nodeID] = key
	return nil
}

func (f *fakeProofs) PeerKey(_ context.Context, nodeID string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.pins[nodeID]
	return k, ok, nil
}

// testKey is a repeatable identity key per name.
func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("test identity " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// linkedChain is n sealed entries of author after prev (hash, link), with
// their links, as the author's store holds them.
func linkedChain(author string, n int, prevHash string, prevLink []byte) []domain.Entry {
	if prevLink == nil {
		prevLink = domain.GenesisLink
	}
	wall := time.Now().UnixMilli()
	es := make([]domain.Entry, n)
	for i := range es {
		e := domain.Entry{Collection: "c", Key: fmt.Sprintf("k%d", i), Op: domain.OpPut,
			Data: []byte(fmt.Sprintf(`{"i":%d}`, i)), Stamp: domain.Timestamp{Wall: wall, Logical: int32(i), Node: author}}
		if i > 0 {
			prevHash = es[i-1].Hash
		}
		e.Seal(prevHash)
		es[i] = e
	}
	for i, l := range domain.LinkRun(prevLink, es) {
		es[i].Link = l
	}
	return es
}

// signLast makes author's key sign the last entry, as its node does when
// it first serves the entry.
func signLast(author string, es []domain.Entry) {
	last := &es[len(es)-1]
	key := testKey(author)
	last.Proof = &domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), Signature: domain.SignHead(key, author, last.Link)}
}

// wire drops what a store keeps and the wire does not carry: links.
func wire(es []domain.Entry) []domain.Entry {
	out := make([]domain.Entry, len(es))
	for i, e := range es {
		e.Link = nil
		out[i] = e
	}
	return out
}

func cvOf(heads map[string]string) chainView {
	return chainView{vc: domain.VectorClock{}, heads: heads}
}

func causes(rs []rejection) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = refusalCause(r.err)
	}
	return out
}

// A node proves its own entries with its key (signing a page once for
// every peer, and never writing while it serves); a receiver verifies
// them, pins the key and keeps links equal to the author's.
func TestProveOwnEntriesAndAdmit(t *testing.T) {
	ctx := t.Context()
	src := newFakeProofs()
	own := linkedChain("a", 3, "", nil)
	src.hold(own...)
	a := authorsOver(src, "a", testKey("a"), false)

	out, err := a.prove(ctx, own)
	require.NoError(t, err)
	require.Nil(t, own[2].Proof, "the input is not modified")
	require.Nil(t, out[0].Proof)
	require.Nil(t, out[1].Proof)
	require.NotNil(t, out[2].Proof)
	assert.Equal(t, domain.GenesisLink, out[2].Proof.LinkBefore)
	assert.Zero(t, src.setProof, "serving writes nothing")

	// Served again: the same signature.
	again := src.entries["a"]
	out2, err := a.prove(ctx, again)
	require.NoError(t, err)
	assert.Equal(t, out[2].Proof.Signature, out2[2].Proof.Signature)

	dst := newFakeProofs()
	b := authorsOver(dst, "b", testKey("b"), false)
	got, rejected, err := b.admit(ctx, checkProofs(wire(out)), false, cvOf(nil))
	require.NoError(t, err)
	require.Empty(t, rejected)
	require.Len(t, got, 3)
	for i := range got {
		assert.Equal(t, own[i].Link, got[i].Link, "entry %d", i)
		assert.False(t, got[i].Legacy)
	}
	assert.Equal(t, []byte(testKey("a").Public().(ed25519.PublicKey)), dst.pins["a"], "pinned after it verified")
}

// A relay proves another author's entries with the proof it keeps further
// on (the digests between go as the tail), and a page that starts
// mid-chain from the link of the entry before it.
func TestProveRelayedEntries(t *testing.T) {
	ctx := t.Context()
	chain := linkedChain("x", 6, "", nil)
	signLast("x", chain)
	relay := newFakeProofs()
	relay.hold(chain...)
	c := authorsOver(relay, "c", testKey("c"), false)
	dst := authorsOver(newFakeProofs(), "b", testKey("b"), false)

	for _, page := range [][]domain.Entry{chain[:2], chain[2:4], chain[3:], chain} {
		out, err := c.prove(ctx, page)
		require.NoError(t, err)
		got, rejected, err := dst.admit(ctx, checkProofs(wire(out)), false, cvOf(nil))
		require.NoError(t, err)
		require.Empty(t, rejected)
		require.Len(t, got, len(page))
		for i := range got {
			assert.Equal(t, page[i].Link, got[i].Link)
		}
	}
}

// A run whose first link the store computed after a boundary (the entry
// before it held without a link) is proven from the boundary link.
func TestProveFromBoundary(t *testing.T) {
	ctx := t.Context()
	before := linkedChain("x", 1, "", nil)
	chain := linkedChain("x", 3, before[0].Hash, domain.BoundaryLink(before[0].Hash))
	signLast("x", chain)
	relay := newFakeProofs()
	before[0].Link = nil
	relay.hold(before[0])
	relay.hold(chain...)
	out, err := authorsOver(relay, "c", testKey("c"), false).prove(ctx, chain)
	require.NoError(t, err)
	require.NotNil(t, out[2].Proof)
	assert.Equal(t, domain.BoundaryLink(before[0].Hash), out[2].Proof.LinkBefore)
	got, rejected, err := authorsOver(newFakeProofs(), "b", testKey("b"), false).admit(ctx, checkProofs(wire(out)), false, cvOf(nil))
	require.NoError(t, err)
	require.Empty(t, rejected)
	require.Len(t, got, 3)
}

// Entries without a link go without proof, and legacy ones keep their
// mark; the entries after them are still proven.
func TestProveSkipsWhatItCannotProve(t *testing.T) {
	ctx := t.Context()
	chain := linkedChain("x", 4, "", nil)
	signLast("x", chain)
	chain[1].Link = nil
	chain[1].Legacy = true
	chain[2].Link = domain.NextLink(domain.BoundaryLink(chain[1].Hash), domain.EntryDigest(&chain[2]))
	chain[3].Link = domain.NextLink(chain[2].Link, domain.EntryDigest(&chain[3]))
	chain[3].Proof = &domain.AuthorProof{PublicKey: testKey("x").Public().(ed25519.PublicKey),
		Signature: domain.SignHead(testKey("x"), "x", chain[3].Link)}
	relay := newFakeProofs()
	relay.hold(chain...)
	out, err := authorsOver(relay, "c", testKey("c"), false).prove(ctx, chain)
	require.NoError(t, err)
	assert.Nil(t, out[0].Proof, "its tail would cross an entry without a link")
	assert.Nil(t, out[1].Proof)
	assert.True(t, out[1].Legacy)
	require.NotNil(t, out[3].Proof)

	got, rejected, err := authorsOver(newFakeProofs(), "b", testKey("b"), false).admit(ctx, checkProofs(wire(out)), false, cvOf(nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"unauthorized", "unauthorized"}, causes(rejected), "unproven on a Go session")
	require.Len(t, got, 2)
	assert.Equal(t, chain[3].Link, got[1].Link)
}

// The attacks of issue 15, each refused as UNAUTHORIZED while the honest
// entries of the same page are taken.
func TestAdmitRefusesForgeries(t *testing.T) {
	ctx := t.Context()
	honest := linkedChain("h", 2, "", nil)
	signLast("h", honest)
	honest[1].Proof.LinkBefore = domain.GenesisLink // as sent in a page that starts the chain
	victim := newFakeProofs()
	victimKey := testKey("v").Public().(ed25519.PublicKey)

	forgedBy := func(author string, key ed25519.PrivateKey, ops ...domain.Op) []domain.Entry {
		es := linkedChain(author, len(ops), "", nil)
		for i, op := range ops {
			if op == domain.OpDelete {
				es[i].Op, es[i].Data = domain.OpDelete, nil
				es[i].Seal(es[i].PrevHash)
				if i+1 < len(es) {
					es[i+1].Seal(es[i].Hash)
				}
			}
		}
		for i, l := range domain.LinkRun(domain.GenesisLink, es) {
			es[i].Link = l
		}
		last := &es[len(es)-1]
		last.Proof = &domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), LinkBefore: domain.GenesisLink,
			Signature: domain.SignHead(key, author, last.Link)}
		return wire(es)
	}
	altered := func() []domain.Entry {
		es := linkedChain("v", 2, "", nil)
		key := testKey("v")
		es[1].Proof = &domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), LinkBefore: domain.GenesisLink,
			Signature: domain.SignHead(key, "v", es[1].Link)}
		es[0].Data = []byte(`{"i":"altered"}`) // the hash does not cover the document
		return wire(es)
	}
	hashless := domain.Entry{Collection: "c", Key: "k", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: time.Now().UnixMilli() + 1000, Node: "v"}}

	for name, tc := range map[string]struct {
		bad     []domain.Entry
		legacy  bool
		heads   map[string]string
		refused int
	}{
		"forged author":        {bad: forgedBy("v", testKey("attacker"), domain.OpPut, domain.OpPut), refused: 2},
		"forged mass delete":   {bad: forgedBy("v", testKey("attacker"), domain.OpDelete, domain.OpDelete, domain.OpDelete), refused: 3},
		"our own id":           {bad: forgedBy("b", testKey("attacker"), domain.OpPut), refused: 1},
		"altered document":     {bad: altered(), refused: 2},
		"unproven":             {bad: wire(linkedChain("v", 2, "", nil)), refused: 2},
		"hashless, chain held": {bad: []domain.Entry{hashless}, legacy: true, heads: map[string]string{"v": "somehash"}, refused: 1},
		"legacy, key known":    {bad: wire(linkedChain("v", 1, "", nil)), legacy: true, refused: 1},
		"junk proof": {bad: func() []domain.Entry {
			es := forgedBy("v", testKey("v"), domain.OpPut)
			es[0].Proof.Signature = es[0].Proof.Signature[:3]
			return es
		}(), refused: 1},
	} {
		t.Run(name, func(t *testing.T) {
			store := newFakeProofs()
			store.pins["v"] = victimKey
			store.pins["b"] = testKey("b").Public().(ed25519.PublicKey)
			b := authorsOver(store, "b", testKey("b"), false)
			page := append(wire(honest), tc.bad...)
			got, rejected, err := b.admit(ctx, checkProofs(page), tc.legacy, cvOf(tc.heads))
			require.NoError(t, err)
			require.Len(t, rejected, tc.refused)
			for _, c := range causes(rejected) {
				assert.Equal(t, "unauthorized", c)
			}
			require.Len(t, got, 2, "the honest entries are taken")
			assert.Equal(t, "h", got[0].Author())
			assert.Equal(t, victimKey, ed25519.PublicKey(store.pins["v"]), "the pin is unchanged")
		})
	}
	_ = victim
}

// A signature that does not verify never pins a key.
func TestAdmitPinsOnlyVerifiedKeys(t *testing.T) {
	es := linkedChain("n", 1, "", nil)
	signLast("n", es)
	es[0].Proof.LinkBefore = domain.GenesisLink
	es = wire(es)
	es[0].Data = []byte(`{"tampered":true}`)
	store := newFakeProofs()
	_, rejected, err := authorsOver(store, "b", testKey("b"), false).admit(t.Context(), checkProofs(es), false, cvOf(nil))
	require.NoError(t, err)
	require.Len(t, rejected, 1)
	assert.Zero(t, store.checks)
	assert.Empty(t, store.pins)
}

// Unproven entries are taken as legacy only from a legacy session, or
// marked legacy by a Go peer while this node has a legacy opt-in; never
// for our node id; hashless only for an author whose chain we lack.
func TestAdmitLegacy(t *testing.T) {
	ctx := t.Context()
	hashed := wire(linkedChain("cs", 1, "", nil))
	marked := wire(linkedChain("cs", 1, "", nil))
	marked[0].Legacy = true
	hashless := []domain.Entry{{Collection: "c", Key: "k", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: time.Now().UnixMilli(), Node: "cs"}}}
	ownID := wire(linkedChain("b", 1, "", nil))
	for _, tc := range []struct {
		name           string
		page           []domain.Entry
		session, optIn bool
		heads          map[string]string
		taken          bool
	}{
		{"legacy session", hashed, true, false, nil, true},
		{"Go session", hashed, false, true, nil, false},
		{"marked, with an opt-in", marked, false, true, nil, true},
		{"marked, without an opt-in", marked, false, false, nil, false},
		{"hashless, chain not held", hashless, true, false, nil, true},
		{"hashless, chain held", hashless, true, false, map[string]string{"cs": "h"}, false},
		{"our node id", ownID, true, true, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := authorsOver(newFakeProofs(), "b", testKey("b"), tc.optIn)
			got, rejected, err := a.admit(ctx, checkProofs(tc.page), tc.session, cvOf(tc.heads))
			require.NoError(t, err)
			if !tc.taken {
				require.Empty(t, got)
				require.Len(t, rejected, 1)
				assert.Equal(t, "unauthorized", refusalCause(rejected[0].err))
				return
			}
			require.Empty(t, rejected)
			require.Len(t, got, 1)
			assert.True(t, got[0].Legacy)
			assert.Nil(t, got[0].Link)
		})
	}
}

// Entries we hold already are left out without a refusal.
func TestAdmitSkipsHeldEntries(t *testing.T) {
	es := wire(linkedChain("x", 2, "", nil))
	cv := chainView{vc: domain.VectorClock{"x": es[1].Stamp}, heads: map[string]string{"x": es[1].Hash}}
	got, rejected, err := authorsOver(newFakeProofs(), "b", testKey("b"), false).admit(t.Context(), checkProofs(es), false, cv)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Empty(t, rejected)
}

// proven returns entries with each author's run proven by testKey(author),
// as that author's node would send them (the run's LinkBefore derived as a
// store without the predecessor's link would).
func proven(entries ...domain.Entry) []domain.Entry {
	out := slices.Clone(entries)
	for author, idx := range byAuthorInOrder(out) {
		run := make([]domain.Entry, len(idx))
		for k, i := range idx {
			run[k] = out[i]
		}
		before := domain.LinkBefore(run[0].PrevHash, nil)
		links := domain.LinkRun(before, run)
		key := testKey(author)
		out[idx[len(idx)-1]].Proof = &domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), LinkBefore: before,
			Signature: domain.SignHead(key, author, links[len(links)-1])}
	}
	return out
}

// Our own run whose first link came from an entry we pruned is signed over
// the links after that entry's boundary, and a receiver that lacks the
// entry too keeps those links, so it can prove the run onward.
func TestProveOwnRunAfterPruning(t *testing.T) {
	ctx := t.Context()
	chain := linkedChain("a", 4, "", nil)
	src := newFakeProofs()
	src.hold(chain[2:]...) // 0 and 1 pruned
	out, err := authorsOver(src, "a", testKey("a"), false).prove(ctx, chain[2:])
	require.NoError(t, err)
	require.NotNil(t, out[1].Proof)
	assert.Equal(t, domain.BoundaryLink(chain[1].Hash), out[1].Proof.LinkBefore)
	assert.Zero(t, src.setProof, "not kept: it is not over the stored links")

	got, rejected, err := authorsOver(newFakeProofs(), "b", testKey("b"), false).admit(ctx, checkProofs(wire(out)), false,
		chainView{vc: domain.VectorClock{"a": chain[1].Stamp}, heads: map[string]string{"a": chain[1].Hash}})
	require.NoError(t, err)
	require.Empty(t, rejected)
	want := domain.LinkRun(domain.BoundaryLink(chain[1].Hash), chain[2:])
	assert.Equal(t, want[1], got[1].Link)
}

// An unproven entry that would not link to what we hold is left out
// without a refusal: the round fills that gap (chain range, snapshot),
// where what arrives is proven or refused.
func TestAdmitLeavesUnprovenGapsOut(t *testing.T) {
	chain := wire(linkedChain("x", 4, "", nil))
	cv := chainView{vc: domain.VectorClock{"x": chain[0].Stamp}, heads: map[string]string{"x": chain[0].Hash}}
	got, rejected, err := authorsOver(newFakeProofs(), "b", testKey("b"), false).admit(t.Context(), checkProofs(chain[2:]), false, cv)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Empty(t, rejected)
	_, rejected, err = authorsOver(newFakeProofs(), "b", testKey("b"), false).admit(t.Context(), checkProofs(chain[1:]), false, cv)
	require.NoError(t, err)
	assert.Len(t, rejected, 3, "following our head, and each other")
}

// A node restored from a backup runs under a new id with its old key: the
// entries of its former id (pinned to that key in its store, as every
// node pins its own) it proves as that id, and a peer that knows the id
// by that key takes them. Found by the simulator (sim.TestSimRegressions).
func TestProveFormerIDEntries(t *testing.T) {
	ctx := t.Context()
	pub := testKey("a").Public().(ed25519.PublicKey)
	own := linkedChain("a", 3, "", nil)
	restored := newFakeProofs()
	restored.hold(own...)
	require.NoError(t, restored.CheckPeerKey(ctx, "a", pub)) // as node a pinned itself (newAuthors)
	out, err := authorsOver(restored, "a2", testKey("a"), false).prove(ctx, own)
	require.NoError(t, err)
	require.NotNil(t, out[2].Proof)

	peer := newFakeProofs()
	require.NoError(t, peer.CheckPeerKey(ctx, "a", pub))
	got, rejected, err := authorsOver(peer, "b", testKey("b"), false).admit(ctx, checkProofs(wire(out)), false, cvOf(nil))
	require.NoError(t, err)
	require.Empty(t, rejected)
	require.Len(t, got, 3)

	// Another node's entries are not ours to sign.
	other := newFakeProofs()
	other.hold(own...)
	out, err = authorsOver(other, "c", testKey("c"), false).prove(ctx, own)
	require.NoError(t, err)
	require.Nil(t, out[2].Proof)
}

// A node pins its own id to its key, so that restored under a new id it
// knows its former id's entries for its own.
func TestNewAuthorsPinsOwnKey(t *testing.T) {
	store := memory.New()
	_, err := newAuthors(store, "a", testKey("a"), false)
	require.NoError(t, err)
	key, ok, err := store.PeerKey(t.Context(), "a")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []byte(testKey("a").Public().(ed25519.PublicKey)), key)
}
