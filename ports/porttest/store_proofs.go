package porttest

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// proofCases are the ports.ProofStore and ports.PeerKeyReader contract
// (domain/authorproof.go), run for stores that implement them: links of
// local commits, what remote entries carry kept as given, and what a node
// proving entries to peers reads back.
var proofCases = []storeCase{
	{"PrevLinkKeptWhereTheChainStartsAtASnapshot", func(t *testing.T, open OpenStore) {
		ctx := t.Context()
		s := open(t)
		ps := proofsOf(t, s)
		sn, ok := s.(ports.Snapshotter)
		if !ok {
			t.Skip("the store makes no snapshots")
		}
		b := newAuthor("B")
		e1, e2 := b.put("c", "x", `{"v":1}`, 1, 0), b.put("c", "y", `{"v":2}`, 2, 0)
		links := domain.LinkRun(domain.GenesisLink, []domain.Entry{e1, e2})
		// Our history of B starts at a snapshot whose head is e1.
		_, err := sn.ApplySnapshot(ctx, lww, domain.Snapshot{
			Documents:   []domain.Document{{Collection: "c", Key: "x", Data: e1.Data, Stamp: e1.Stamp}},
			Heads:       map[string]string{"B": e1.Hash},
			VectorClock: map[string]domain.Timestamp{"B": e1.Stamp},
		})
		require.NoError(t, err)
		link, err := ps.LinkOf(ctx, e1.Hash)
		require.NoError(t, err)
		require.Nil(t, link, "the snapshot's head is not held")
		e2.Link, e2.PrevLink = links[1], links[0]
		mustApply(t, s, lww, e2)
		link, err = ps.LinkOf(ctx, e1.Hash)
		require.NoError(t, err)
		require.Equal(t, links[0], link, "the link before e2, as its proof gave it")

		// Where the predecessor is held, its own link stays the answer.
		c := newAuthor("C")
		c1, c2 := c.put("c", "p", `{}`, 3, 0), c.put("c", "q", `{}`, 4, 0)
		cl := domain.LinkRun(domain.GenesisLink, []domain.Entry{c1, c2})
		c1.Link = cl[0]
		mustApply(t, s, lww, c1)
		c2.Link, c2.PrevLink = cl[1], []byte("not the link of c1, never kept....")
		mustApply(t, s, lww, c2)
		link, err = ps.LinkOf(ctx, c1.Hash)
		require.NoError(t, err)
		require.Equal(t, cl[0], link)
		held, err := s.AuthorEntriesAfter(ctx, "C", domain.Timestamp{}, 10)
		require.NoError(t, err)
		for _, e := range held {
			require.Nil(t, e.PrevLink, "PrevLink is not stored with the entry")
		}
	}},
	{"LocalCommitsChainFromGenesis", func(t *testing.T, open OpenStore) {
		s := open(t)
		proofsOf(t, s)
		var all []domain.Entry
		all = append(all, mustCommit(t, s, lww, putW("c", "k1", `{"v":1}`, ts(1, 0, "A")))...)
		all = append(all, mustCommit(t, s, lww, // a batch
			putW("c", "k2", `{"v":2}`, ts(2, 0, "A")),
			putW("c", "k3", `{"v":3}`, ts(2, 1, "A")),
			putW("d", "k1", `{"v":4}`, ts(2, 2, "A")))...)
		all = append(all, mustCommit(t, s, lww, ifVersion(putW("c", "k4", `{"v":5}`, ts(3, 0, "A")), domain.Timestamp{}))...)
		all = append(all, mustCommit(t, s, logResolver{}, putW("e", "k1", `{"v":"x"}`, ts(4, 0, "A")))...)
		all = append(all, mustCommit(t, s, lww, delW("c", "k1", ts(5, 0, "A")))...)
		want := domain.LinkRun(domain.GenesisLink, all)
		for i := range all {
			require.Equal(t, want[i], all[i].Link, "Commit returns entry %d with its link", i)
			require.Nil(t, all[i].Proof)
			require.False(t, all[i].Legacy)
		}
		key := testIdentity()
		_, err := domain.VerifyRun("A", all, &domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey),
			LinkBefore: domain.GenesisLink, Signature: domain.SignHead(key, "A", want[len(want)-1])})
		require.NoError(t, err, "the links are the ones a peer verifies")
		for name, got := range everyRead(t, s, "A") {
			require.Len(t, got, len(all), name)
			for i := range got {
				require.Equal(t, want[i], got[i].Link, "%s: entry %d", name, i)
				require.Nil(t, got[i].Proof, name)
				require.False(t, got[i].Legacy, name)
			}
		}
	}},
	{"LocalCommitChainsFromTheHeadsLink", func(t *testing.T, open OpenStore) {
		// Our own entries can come back from peers (a restored node):
		// the next commit chains from the link the head was stored with,
		// or from the boundary when it came without one.
		s := open(t)
		proofsOf(t, s)
		a := newAuthor("A")
		linked := a.put("c", "k1", `{}`, 1, 0)
		linked.Link = domain.LinkRun(domain.GenesisLink, []domain.Entry{linked})[0]
		mustApply(t, s, lww, linked)
		out := mustCommit(t, s, lww, putW("c", "k2", `{}`, ts(2, 0, "A")))
		require.Equal(t, domain.LinkRun(linked.Link, out), [][]byte{out[0].Link})

		b := newAuthor("B")
		unlinked := b.put("c", "k3", `{}`, 3, 0)
		mustApply(t, s, lww, unlinked)
		out = mustCommit(t, s, lww, putW("c", "k4", `{}`, ts(4, 0, "B")))
		require.Equal(t, unlinked.Hash, out[0].PrevHash)
		require.Equal(t, domain.LinkRun(domain.BoundaryLink(unlinked.Hash), out), [][]byte{out[0].Link})
	}},
	{"RemoteLinkProofLegacyRoundTrip", func(t *testing.T, open OpenStore) {
		s := open(t)
		proofsOf(t, s)
		b := newAuthor("B")
		run := []domain.Entry{b.put("c", "k1", `{"v":1}`, 1, 0), b.del("c", "k1", 2, 0), b.put("c", "k2", `{"v":2}`, 3, 0)}
		links := domain.LinkRun(domain.GenesisLink, run)
		for i := range run {
			run[i].Link = bytes.Clone(links[i])
		}
		key := testIdentity()
		tail := [][]byte{bytes.Repeat([]byte{9}, domain.LinkSize)}
		run[2].Proof = &domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), LinkBefore: domain.GenesisLink,
			Tail: tail, Signature: bytes.Repeat([]byte{5}, ed25519.SignatureSize)}
		legacy := domain.Entry{Collection: "c", Key: "k3", Op: domain.OpPut, Data: []byte(`{}`), Stamp: ts(4, 0, "L"), Legacy: true}
		res := mustApply(t, s, lww, append(run, legacy)...)
		require.Len(t, res.Applied, 4)
		require.Equal(t, links[2], res.Applied[2].Link)
		require.True(t, res.Applied[3].Legacy)
		run[0].Link[0] ^= 0xff // the caller may reuse its buffers
		run[0].Link[0] ^= 0xff

		for name, got := range everyRead(t, s, "") {
			require.Len(t, got, 4, name)
			for i := range 3 {
				require.Equal(t, run[i].Hash, got[i].Hash, name)
				require.Equal(t, links[i], got[i].Link, "%s: entry %d", name, i)
				require.False(t, got[i].Legacy, name)
			}
			require.Nil(t, got[0].Proof, name)
			require.Nil(t, got[1].Proof, name)
			require.Equal(t, &domain.AuthorProof{PublicKey: run[2].Proof.PublicKey, Tail: tail, Signature: run[2].Proof.Signature},
				got[2].Proof, "%s: the proof is kept without its LinkBefore", name)
			require.True(t, got[3].Legacy, name)
			require.Nil(t, got[3].Link, name)
			require.Nil(t, got[3].Proof, name)
		}
		chain, err := s.ChainRange(t.Context(), "", run[2].Hash)
		require.NoError(t, err)
		require.Len(t, chain, 3)
		require.Equal(t, links[2], chain[2].Link)
		require.NotNil(t, chain[2].Proof)
	}},
	{"ProofAfterReachesTheNextProof", func(t *testing.T, open OpenStore) {
		s := open(t)
		ps := proofsOf(t, s)
		ctx := t.Context()
		key := testIdentity()
		chain := linkedChain("B", 5)
		proof := domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), Signature: domain.SignHead(key, "B", chain[3].Link)}
		chain[3].Proof = &proof
		mustApply(t, s, lww, chain...)

		tail, got, err := ps.ProofAfter(ctx, "B", chain[0].Stamp)
		require.NoError(t, err)
		require.Equal(t, [][]byte{domain.EntryDigest(&chain[1]), domain.EntryDigest(&chain[2]), domain.EntryDigest(&chain[3])}, tail)
		require.NotNil(t, got)
		require.Equal(t, proof.PublicKey, got.PublicKey)
		require.Equal(t, proof.Signature, got.Signature)
		// What a relay sends for a page ending at chain[0] verifies.
		links, err := domain.VerifyRun("B", chain[:1], &domain.AuthorProof{PublicKey: got.PublicKey, LinkBefore: domain.GenesisLink,
			Tail: append(tail, got.Tail...), Signature: got.Signature})
		require.NoError(t, err)
		require.Equal(t, chain[0].Link, links[0])

		tail, got, err = ps.ProofAfter(ctx, "B", chain[2].Stamp)
		require.NoError(t, err)
		require.Equal(t, [][]byte{domain.EntryDigest(&chain[3])}, tail)
		require.NotNil(t, got)
		for _, after := range []domain.Timestamp{chain[3].Stamp, chain[4].Stamp} {
			tail, got, err = ps.ProofAfter(ctx, "B", after)
			require.NoError(t, err)
			require.Nil(t, got, "no proof after %s", after)
			require.Empty(t, tail)
		}
		tail, got, err = ps.ProofAfter(ctx, "nobody", domain.Timestamp{})
		require.NoError(t, err)
		require.Nil(t, got)
		require.Empty(t, tail)
	}},
	{"ProofAfterStopsAtAMissingOrBrokenLink", func(t *testing.T, open OpenStore) {
		s := open(t)
		ps := proofsOf(t, s)
		proof := &domain.AuthorProof{PublicKey: make([]byte, ed25519.PublicKeySize), Signature: make([]byte, ed25519.SignatureSize)}
		unlinked := linkedChain("B", 3)
		unlinked[1].Link = nil
		unlinked[2].Proof = proof
		broken := linkedChain("C", 3)
		broken[2].Link = bytes.Repeat([]byte{1}, domain.LinkSize)
		broken[2].Proof = proof
		mustApply(t, s, lww, append(unlinked, broken...)...)
		for _, a := range []string{"B", "C"} {
			tail, got, err := ps.ProofAfter(t.Context(), a, ts(0, 0, a))
			require.NoError(t, err)
			require.Nil(t, got, a)
			require.Empty(t, tail, a)
		}
	}},
	{"SetProofAndLinkOf", func(t *testing.T, open OpenStore) {
		s := open(t)
		ps := proofsOf(t, s)
		ctx := t.Context()
		out := mustCommit(t, s, lww, putW("c", "k1", `{}`, ts(1, 0, "A")), putW("c", "k2", `{}`, ts(2, 0, "A")))
		for _, e := range out {
			link, err := ps.LinkOf(ctx, e.Hash)
			require.NoError(t, err)
			require.Equal(t, e.Link, link)
		}
		link, err := ps.LinkOf(ctx, "no-such-hash")
		require.NoError(t, err)
		require.Nil(t, link)

		key := testIdentity()
		proof := domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), LinkBefore: domain.GenesisLink,
			Signature: domain.SignHead(key, "A", out[1].Link)}
		require.NoError(t, ps.SetProof(ctx, out[1].Hash, proof))
		proof.Signature[0] ^= 0xff // the store keeps its own copy
		proof.Signature[0] ^= 0xff
		for name, got := range everyRead(t, s, "A") {
			require.Nil(t, got[0].Proof, name)
			require.Equal(t, &domain.AuthorProof{PublicKey: proof.PublicKey, Signature: proof.Signature}, got[1].Proof, name)
		}
		tail, got, err := ps.ProofAfter(ctx, "A", out[0].Stamp)
		require.NoError(t, err)
		require.Equal(t, [][]byte{domain.EntryDigest(&out[1])}, tail)
		require.Equal(t, proof.Signature, got.Signature)
		requireCode(t, ps.SetProof(ctx, "no-such-hash", proof), domain.CodeNotFound)
	}},
	{"PeerKeyAfterCheckPeerKey", func(t *testing.T, open OpenStore) {
		s := open(t)
		pk := peerKeysOf(t, s)
		pr, ok := s.(ports.PeerKeyReader)
		if !ok {
			t.Skip("store does not implement ports.PeerKeyReader")
		}
		ctx := t.Context()
		_, known, err := pr.PeerKey(ctx, "n1")
		require.NoError(t, err)
		require.False(t, known)
		k := bytes.Repeat([]byte{3}, ed25519.PublicKeySize)
		require.NoError(t, pk.CheckPeerKey(ctx, "n1", k))
		got, known, err := pr.PeerKey(ctx, "n1")
		require.NoError(t, err)
		require.True(t, known)
		require.Equal(t, k, got)
	}},
}

func proofsOf(t *testing.T, s ports.Store) ports.ProofStore {
	t.Helper()
	ps, ok := s.(ports.ProofStore)
	if !ok {
		t.Skip("store does not implement ports.ProofStore")
	}
	return ps
}

// testIdentity is a fixed ed25519 identity key.
func testIdentity() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, ed25519.SeedSize))
}

// linkedChain is n entries of author, each at wall offset i+1, linked
// from GenesisLink.
func linkedChain(author string, n int) []domain.Entry {
	a := newAuthor(author)
	chain := make([]domain.Entry, n)
	for i := range chain {
		chain[i] = a.put("c", author+"-"+string(rune('a'+i)), `{"i":1}`, int64(i+1), 0)
	}
	for i, l := range domain.LinkRun(domain.GenesisLink, chain) {
		chain[i].Link = bytes.Clone(l)
	}
	return chain
}

// everyRead returns what each oplog read returns of the whole oplog (of
// author only, when given), in chain order.
func everyRead(t *testing.T, s ports.Store, author string) map[string][]domain.Entry {
	t.Helper()
	ctx := t.Context()
	only := func(es []domain.Entry) []domain.Entry {
		var out []domain.Entry
		for _, e := range es {
			if author == "" || e.Author() == author {
				out = append(out, e)
			}
		}
		return out
	}
	reads := map[string][]domain.Entry{}
	feed, err := s.EntriesSinceSeq(ctx, 0, 0)
	require.NoError(t, err)
	reads["EntriesSinceSeq"] = only(feed)
	page, err := s.EntriesAfter(ctx, domain.Timestamp{}, nil, 0, 0)
	require.NoError(t, err)
	reads["EntriesAfter"] = only(page)
	if author != "" {
		mine, err := s.AuthorEntriesAfter(ctx, author, domain.Timestamp{}, 0)
		require.NoError(t, err)
		reads["AuthorEntriesAfter"] = mine
		heads, err := s.Heads(ctx)
		require.NoError(t, err)
		chain, err := s.ChainRange(ctx, "", heads[author])
		require.NoError(t, err)
		reads["ChainRange"] = chain
	}
	return reads
}

// linksSurviveReopen is the durability case: links, proofs and legacy
// marks read back after Close and reopen, and local commits go on chaining
// from the head's link.
func linksSurviveReopen(t *testing.T, open OpenStoreAt) {
	dir := t.TempDir()
	ctx := t.Context()
	s := open(t, dir)
	if _, ok := s.(ports.ProofStore); !ok {
		_ = s.Close()
		t.Skip("store does not implement ports.ProofStore")
	}
	local := mustCommit(t, s, lww, putW("c", "k1", `{}`, ts(1, 0, "A")), putW("c", "k2", `{}`, ts(2, 0, "A")))
	remote := linkedChain("B", 2)
	remote[1].Proof = &domain.AuthorProof{PublicKey: make([]byte, ed25519.PublicKeySize), Signature: make([]byte, ed25519.SignatureSize)}
	legacy := domain.Entry{Collection: "c", Key: "k3", Op: domain.OpDelete, Stamp: ts(3, 0, "L"), Legacy: true}
	mustApply(t, s, lww, append(remote, legacy)...)
	before, err := s.EntriesSinceSeq(ctx, 0, 0)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s2 := open(t, dir)
	t.Cleanup(func() { _ = s2.Close() })
	after, err := s2.EntriesSinceSeq(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, after, len(before))
	for i := range before {
		require.Equal(t, before[i].Link, after[i].Link, "entry %d", i)
		require.Equal(t, before[i].Proof, after[i].Proof, "entry %d", i)
		require.Equal(t, before[i].Legacy, after[i].Legacy, "entry %d", i)
	}
	require.True(t, after[len(after)-1].Legacy)
	out := mustCommit(t, s2, lww, putW("c", "k4", `{}`, ts(4, 0, "A")))
	require.Equal(t, domain.LinkRun(local[1].Link, out), [][]byte{out[0].Link}, "the chain goes on from the head's link")
}
