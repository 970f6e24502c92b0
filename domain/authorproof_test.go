package domain

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// authorChain makes n sealed entries of author, each with its link.
func authorChain(rng *rand.Rand, author string, n int) []Entry {
	es := make([]Entry, n)
	prev, link := "", GenesisLink
	for i := range es {
		e := Entry{Collection: "c", Key: fmt.Sprintf("k%d", rng.IntN(5)), Op: OpPut,
			Data: []byte(fmt.Sprintf(`{"v":%d}`, rng.Int64())), Stamp: Timestamp{Wall: int64(1000 + i), Node: author}}
		if rng.IntN(4) == 0 {
			e.Op, e.Data = OpDelete, nil
		}
		e.Seal(prev)
		link = NextLink(link, EntryDigest(&e))
		e.Link = link
		prev = e.Hash
		es[i] = e
	}
	return es
}

func testKey(rng *rand.Rand) ed25519.PrivateKey {
	var seed [ed25519.SeedSize]byte
	for i := range seed {
		seed[i] = byte(rng.IntN(256))
	}
	return ed25519.NewKeyFromSeed(seed[:])
}

// proofFor proves chain[from:to] the way a relay does: the author signed
// the link of chain[signed]; the digests between the run and it ride along.
func proofFor(key ed25519.PrivateKey, author string, chain []Entry, from, to, signed int) *AuthorProof {
	before := GenesisLink
	if from > 0 {
		before = chain[from-1].Link
	}
	p := &AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), LinkBefore: before,
		Signature: SignHead(key, author, chain[signed].Link)}
	for i := to; i <= signed; i++ {
		p.Tail = append(p.Tail, EntryDigest(&chain[i]))
	}
	return p
}

// Any run of an honest chain, with a signature at or after its end,
// verifies and yields the links the author computed.
func TestVerifyRunAcceptsEveryHonestRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := testKey(rng)
	for trial := 0; trial < 300; trial++ {
		chain := authorChain(rng, "a", 1+rng.IntN(20))
		from := rng.IntN(len(chain))
		to := from + 1 + rng.IntN(len(chain)-from) // run is chain[from:to]
		signed := to - 1 + rng.IntN(len(chain)-to+1)
		links, err := VerifyRun("a", chain[from:to], proofFor(key, "a", chain, from, to, signed))
		require.NoError(t, err, "trial %d: run [%d,%d) signed at %d", trial, from, to, signed)
		for i := range links {
			require.Equal(t, chain[from+i].Link, links[i])
		}
	}
}

// Every way of altering a proven run is refused with UNAUTHORIZED.
func TestVerifyRunRefusesEveryAlteration(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	key, other := testKey(rng), testKey(rng)
	alterations := map[string]func(run []Entry, p *AuthorProof) ([]Entry, *AuthorProof){
		"document changed after signing": func(run []Entry, p *AuthorProof) ([]Entry, *AuthorProof) {
			i := rng.IntN(len(run))
			run[i].Data = append(append([]byte{}, run[i].Data...), ' ')
			return run, p
		},
		"operation flipped, hashes recomputed": func(run []Entry, p *AuthorProof) ([]Entry, *AuthorProof) {
			i := rng.IntN(len(run))
			if run[i].Op == OpPut {
				run[i].Op, run[i].Data = OpDelete, nil
			} else {
				run[i].Op, run[i].Data = OpPut, []byte(`{}`)
			}
			run[i].Seal(run[i].PrevHash)
			if i+1 < len(run) {
				run[i+1].Seal(run[i].Hash)
			}
			return run, p
		},
		"entry dropped from the run": func(run []Entry, p *AuthorProof) ([]Entry, *AuthorProof) {
			if len(run) < 2 {
				return run[:0], p // an empty run cannot reach the signed link
			}
			i := rng.IntN(len(run) - 1)
			return append(run[:i:i], run[i+1:]...), p
		},
		"signed by another key": func(run []Entry, p *AuthorProof) ([]Entry, *AuthorProof) {
			p.PublicKey = other.Public().(ed25519.PublicKey)
			return run, p
		},
		"link before replaced": func(run []Entry, p *AuthorProof) ([]Entry, *AuthorProof) {
			p.LinkBefore = NextLink(p.LinkBefore, []byte("x"))
			return run, p
		},
		"tail digest altered": func(run []Entry, p *AuthorProof) ([]Entry, *AuthorProof) {
			if len(p.Tail) == 0 {
				p.Tail = [][]byte{make([]byte, LinkSize)}
			} else {
				p.Tail[rng.IntN(len(p.Tail))] = make([]byte, LinkSize)
			}
			return run, p
		},
	}
	for name, alter := range alterations {
		t.Run(name, func(t *testing.T) {
			for trial := 0; trial < 100; trial++ {
				chain := authorChain(rng, "a", 2+rng.IntN(12))
				from := rng.IntN(len(chain) - 1)
				to := from + 1 + rng.IntN(len(chain)-from)
				signed := to - 1 + rng.IntN(len(chain)-to+1)
				run := append([]Entry(nil), chain[from:to]...)
				run, p := alter(run, proofFor(key, "a", chain, from, to, signed))
				_, err := VerifyRun("a", run, p)
				require.Error(t, err, "trial %d", trial)
				require.Equal(t, CodeUnauthorized, CodeOf(err), "trial %d: %v", trial, err)
			}
		})
	}
}

// A signature vouches for its own author only: the same chain presented as
// another node's, or another node's entries under this proof, fail.
func TestVerifyRunBindsTheAuthor(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	key := testKey(rng)
	chain := authorChain(rng, "a", 4)
	p := proofFor(key, "a", chain, 0, 4, 3)
	_, err := VerifyRun("b", chain, p)
	require.Equal(t, CodeInvalidArgument, CodeOf(err), "entries authored by a are not a run of b")

	forged := authorChain(rng, "b", 4)
	bp := *p
	bp.LinkBefore = GenesisLink
	_, err = VerifyRun("b", forged, &bp)
	require.Equal(t, CodeUnauthorized, CodeOf(err))
}

func TestVerifyRunRefusesHashlessAndMalformed(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	key := testKey(rng)
	chain := authorChain(rng, "a", 3)
	p := proofFor(key, "a", chain, 0, 3, 2)

	hashless := append([]Entry(nil), chain...)
	hashless[1].Hash, hashless[1].PrevHash = "", ""
	_, err := VerifyRun("a", hashless, p)
	require.Equal(t, CodeUnauthorized, CodeOf(err))

	_, err = VerifyRun("a", chain, nil)
	require.Equal(t, CodeUnauthorized, CodeOf(err))

	short := *p
	short.Signature = short.Signature[:10]
	_, err = VerifyRun("a", chain, &short)
	require.Equal(t, CodeInvalidArgument, CodeOf(err))

	long := *p
	long.Tail = make([][]byte, MaxProofTail+1)
	_, err = VerifyRun("a", chain, &long)
	require.Equal(t, CodeInvalidArgument, CodeOf(err))
}

func BenchmarkVerifyRun(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	key := testKey(rng)
	const n = 500
	chain := authorChain(rng, "a", n)
	for i := range chain { // ~500-byte documents, as the bootstrap bench writes
		chain[i].Op = OpPut
		chain[i].Data = []byte(fmt.Sprintf(`{"v":%d,"pad":"%0480d"}`, i, 0))
		prev := ""
		if i > 0 {
			prev = chain[i-1].Hash
		}
		chain[i].Seal(prev)
	}
	links := LinkRun(GenesisLink, chain)
	p := &AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), LinkBefore: GenesisLink,
		Signature: SignHead(key, "a", links[n-1])}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := VerifyRun("a", chain, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
}

// An expiry is part of what the author signed: changing it, or adding one,
// changes the digest; entries without one digest as they always did.
func TestEntryDigestCoversExpiry(t *testing.T) {
	e := Entry{Collection: "c", Key: "k", Data: []byte(`{}`), Stamp: Timestamp{Wall: 1, Node: "a"}}
	e.Seal("")
	plain := EntryDigest(&e)
	e.ExpiresAt = 1_800_000_000_000
	expiring := EntryDigest(&e)
	e.ExpiresAt++
	require.NotEqual(t, plain, expiring)
	require.NotEqual(t, expiring, EntryDigest(&e))
	e.ExpiresAt = 0
	require.Equal(t, plain, EntryDigest(&e))
}

// VerifyRunHashed trusts the hashes (its caller checked them) and checks
// everything else as VerifyRun does.
func TestVerifyRunHashedSkipsOnlyTheHashCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	key := testKey(rng)
	chain := authorChain(rng, "a", 5)
	p := proofFor(key, "a", chain, 0, 5, 4)
	links, err := VerifyRunHashed("a", chain, p)
	require.NoError(t, err)
	require.Equal(t, chain[4].Link, links[4])

	bad := append([]Entry(nil), chain...)
	bad[2].Hash = bad[2].Hash[:63] + "0"
	_, err = VerifyRun("a", bad, p)
	require.Equal(t, CodeUnauthorized, CodeOf(err), "VerifyRun checks hashes")
	_, err = VerifyRunHashed("a", bad, p)
	require.Equal(t, CodeUnauthorized, CodeOf(err), "a wrong hash still breaks the link or the chain")

	altered := append([]Entry(nil), chain...)
	altered[1].Data = []byte(`{"forged":true}`)
	_, err = VerifyRunHashed("a", altered, p)
	require.Equal(t, CodeUnauthorized, CodeOf(err))
}
