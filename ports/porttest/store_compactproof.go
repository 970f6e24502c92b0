package porttest

import (
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// relayProvesAcrossHoles: a relay S holds author B's linked chain with the
// proofs it arrived with, writes over some of B's documents and compacts
// B's superseded entries away, one of them a proof carrier. The proof S
// builds for a page of B's entries it still holds (as app/proofs.go does:
// the last entry's proof, else ProofAfter's digests in front of the next
// proof's tail) must verify across the holes; a forged digest must not.
//
//	0 1 2 3* 4 5* 6 7*   (* carries B's proof; 1, 2 and 5 written over)
func relayProvesAcrossHoles(t *testing.T, open OpenStore) {
	ctx := t.Context()
	s := open(t)
	ps := proofsOf(t, s)
	compactorOf(t, s)
	key := testIdentity()
	chain := linkedChain("B", 8)
	for _, i := range []int{3, 5, 7} {
		chain[i].Proof = &domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), Signature: domain.SignHead(key, "B", chain[i].Link)}
	}
	mustApply(t, s, lww, chain...)
	for i, at := range []int{1, 2, 5} {
		mustCommit(t, s, lww, putW("c", chain[at].Key, `{"by":"S"}`, ts(100+int64(i), 0, "S")))
	}
	res := mustCompact(t, s, domain.CompactionPolicy{Now: baseWall + 1000,
		HeldByAll: domain.VectorClock{"B": chain[7].Stamp, "S": ts(1000, 0, "S")}})
	require.Equal(t, 3, res.EntriesRemoved)
	held, err := s.AuthorEntriesAfter(ctx, "B", domain.Timestamp{}, 0)
	require.NoError(t, err)
	require.Len(t, held, 5)
	for i, at := range []int{0, 3, 4, 6, 7} {
		require.Equal(t, chain[at].Hash, held[i].Hash)
	}

	pageProof := func(run []domain.Entry) *domain.AuthorProof {
		t.Helper()
		last := run[len(run)-1]
		proof := last.Proof
		if proof == nil {
			tail, after, err := ps.ProofAfter(ctx, "B", last.Stamp)
			require.NoError(t, err)
			require.NotNil(t, after, "a proof after %s", last.Key)
			proof = &domain.AuthorProof{PublicKey: after.PublicKey, Signature: after.Signature, Tail: append(tail, after.Tail...)}
		}
		prev, err := ps.LinkOf(ctx, run[0].PrevHash)
		require.NoError(t, err)
		proof.LinkBefore = domain.LinkBefore(run[0].PrevHash, prev)
		return proof
	}
	// Pages ending before the first hole, at the entry before the second
	// (which now carries the removed entry's proof), after the holes.
	for _, page := range [][2]int{{0, 0}, {1, 2}, {2, 2}, {3, 3}, {3, 4}} {
		run := held[page[0] : page[1]+1]
		links, err := domain.VerifyRun("B", run, pageProof(run))
		require.NoError(t, err, "page %d..%d", page[0], page[1])
		require.Equal(t, run[len(run)-1].Link, links[len(links)-1])
	}

	// A digest of the removed entries (what crosses the first hole)
	// altered: refused.
	proof := pageProof(held[:1])
	require.Len(t, proof.Tail, 3, "the removed entries' digests, then chain[3]'s")
	forged := *proof
	forged.Tail = append([][]byte(nil), proof.Tail...)
	forged.Tail[0] = append([]byte(nil), proof.Tail[0]...)
	forged.Tail[0][0] ^= 0xff
	_, err = domain.VerifyRun("B", held[:1], &forged)
	requireCode(t, err, domain.CodeUnauthorized)
}
