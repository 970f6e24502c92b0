package domain

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Holes (a store compacted entries away): what it keeps before a hole is
// digests of the removed entries, in front of a signature's tail (a moved
// proof) or on their own (a bridge the verifier hashes across, up to the
// link the next held entry follows). The rule's properties: merged bridges
// and moved tails reach the same link as the whole chain did, and any
// change to them — a digest forged, left out, added or moved — reaches
// another link, so no signature covers it.

// removedDigests are the digests of chain[from:to].
func removedDigests(chain []Entry, from, to int) [][]byte {
	var ds [][]byte
	for i := from; i < to; i++ {
		ds = append(ds, EntryDigest(&chain[i]))
	}
	return ds
}

// A bridge across any hole reaches the link of the hole's last entry, and
// bridges merged as holes grow (a bridge, a removed entry, its bridge)
// reach what one bridge over the whole hole does.
func TestLinkAfterCrossesAndMergesHoles(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 300; trial++ {
		chain := authorChain(rng, "a", 3+rng.IntN(30))
		p := rng.IntN(len(chain) - 2)
		end := p + 2 + rng.IntN(len(chain)-p-2) // chain[p+1:end] removed
		whole := removedDigests(chain, p+1, end)
		require.Equal(t, chain[end-1].Link, LinkAfter(chain[p].Link, whole))
		cut := p + 1 + rng.IntN(end-p-1)
		merged := append(removedDigests(chain, p+1, cut), removedDigests(chain, cut, end)...)
		require.Equal(t, LinkAfter(chain[p].Link, whole), LinkAfter(LinkAfter(chain[p].Link, removedDigests(chain, p+1, cut)), removedDigests(chain, cut, end)))
		require.Equal(t, whole, merged)
	}
	require.Equal(t, GenesisLink, LinkAfter(GenesisLink, nil))
}

// The piece of a chain before a hole, proven by the proof of an entry the
// hole removed, moved with the removed digests in front of its tail,
// verifies; every change to that tail is refused.
func TestMovedProofVerifiesOnlyItsOwnHole(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	key := testKey(rng)
	for trial := 0; trial < 200; trial++ {
		chain := authorChain(rng, "a", 4+rng.IntN(30))
		from := rng.IntN(len(chain) - 3)
		p := from + rng.IntN(len(chain)-from-3) // the piece chain[from:p+1] stays
		signed := p + 1 + rng.IntN(len(chain)-p-1)
		moved := proofFor(key, "a", chain, from, p+1, signed)
		links, err := VerifyRun("a", chain[from:p+1], moved)
		require.NoError(t, err)
		require.Equal(t, chain[p].Link, links[len(links)-1])

		for _, change := range tailChanges(rng, moved.Tail) {
			bad := *moved
			bad.Tail = change
			_, err := VerifyRun("a", chain[from:p+1], &bad)
			require.Error(t, err, "trial %d", trial)
			require.Equal(t, CodeUnauthorized, CodeOf(err))
		}
		// The same proof does not prove a piece that stops elsewhere.
		if p > from {
			_, err := VerifyRun("a", chain[from:p], moved)
			require.Error(t, err)
		}
		// Nor the piece in another author's name.
		_, err = VerifyRun("b", chain[from:p+1], moved)
		require.Error(t, err)
	}
}

// tailChanges are the ways a forger alters a tail: a digest forged, one
// left out, one added, two swapped.
func tailChanges(rng *rand.Rand, tail [][]byte) [][][]byte {
	var out [][][]byte
	i := rng.IntN(len(tail))
	forged := slices.Clone(tail)
	forged[i] = bytes.Repeat([]byte{byte(rng.IntN(256))}, LinkSize)
	out = append(out, forged, slices.Delete(slices.Clone(tail), i, i+1),
		slices.Insert(slices.Clone(tail), i, EntryDigest(&Entry{Hash: "x"})))
	if len(tail) > 1 {
		swapped := slices.Clone(tail)
		j := (i + 1) % len(tail)
		swapped[i], swapped[j] = swapped[j], swapped[i]
		if !bytes.Equal(swapped[i], swapped[j]) {
			out = append(out, swapped)
		}
	}
	return out
}

// A bridge altered in any way reaches another link than the hole's last
// entry's, so a verifier that requires the boundary's link stops there.
func TestAlteredBridgeMissesTheBoundary(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for trial := 0; trial < 300; trial++ {
		chain := authorChain(rng, "a", 3+rng.IntN(30))
		p := rng.IntN(len(chain) - 2)
		end := p + 2 + rng.IntN(len(chain)-p-2)
		bridge := removedDigests(chain, p+1, end)
		for _, change := range tailChanges(rng, bridge) {
			require.NotEqual(t, chain[end-1].Link, LinkAfter(chain[p].Link, change))
		}
		// From another entry than the hole's, the bridge misses too.
		if p > 0 {
			require.NotEqual(t, chain[end-1].Link, LinkAfter(chain[p-1].Link, bridge))
		}
	}
}
