package domain

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chainOf is n sealed entries of one author, continuing from prev.
func chainOf(author string, wall int64, n int, prev string) []Entry {
	out := make([]Entry, n)
	for i := range out {
		e := Entry{Collection: "c", Key: fmt.Sprintf("%s-%d", author, i), Op: OpPut,
			Data: []byte(`{"i":` + fmt.Sprint(i) + `}`), Stamp: Timestamp{Wall: wall, Logical: int32(i), Node: author}}
		e.Seal(prev)
		prev = e.Hash
		out[i] = e
	}
	return out
}

// referenceLink is LinkEntries as first written (entries copied per
// author): the rewrite that groups by index must give the same answer.
func referenceLink(entries []Entry, vc VectorClock, heads map[string]string) (linked []Entry, gaps map[string][]Entry) {
	byAuthor := map[string][]Entry{}
	var authors []string
	for i := range entries {
		a := entries[i].Author()
		if !entries[i].Stamp.After(vc[a]) {
			continue
		}
		if _, ok := byAuthor[a]; !ok {
			authors = append(authors, a)
		}
		byAuthor[a] = append(byAuthor[a], entries[i])
	}
	sort.Strings(authors)
	for _, a := range authors {
		es := byAuthor[a]
		sort.SliceStable(es, func(i, j int) bool { return es[i].Stamp.Before(es[j].Stamp) })
		head := heads[a]
		if head == "" && !vc[a].IsZero() {
			linked = append(linked, es...)
			continue
		}
		byPrev := make(map[string]int, len(es))
		used := make([]bool, len(es))
		for i := range es {
			if es[i].Hash == "" {
				continue
			}
			if _, dup := byPrev[es[i].PrevHash]; !dup {
				byPrev[es[i].PrevHash] = i
			}
		}
		cur := head
		for {
			i, ok := byPrev[cur]
			if !ok || used[i] {
				break
			}
			used[i] = true
			cur = es[i].Hash
		}
		linkedHashes := map[string]bool{}
		for i := range es {
			if used[i] {
				linkedHashes[es[i].Hash] = true
			}
		}
		var rest []Entry
		for i := range es {
			switch {
			case es[i].Hash == "" || used[i]:
				linked = append(linked, es[i])
			case linkedHashes[es[i].Hash]:
			default:
				rest = append(rest, es[i])
			}
		}
		if len(rest) > 0 {
			if gaps == nil {
				gaps = map[string][]Entry{}
			}
			gaps[a] = rest
		}
	}
	return linked, gaps
}

// TestLinkEntriesMatchesReference feeds random mixes of chains (shuffled,
// with holes, duplicates, unchained entries, entries we hold, known or
// unknown heads) to both versions.
func TestLinkEntriesMatchesReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	chains := map[string][]Entry{
		"a": chainOf("a", 100, 30, ""),
		"b": chainOf("b", 100, 20, ""),
		"c": chainOf("c", 90, 25, ""),
	}
	for round := range 2000 {
		var in []Entry
		vc := VectorClock{}
		heads := map[string]string{}
		for author, chain := range chains {
			if rnd.IntN(4) == 0 {
				continue
			}
			held := rnd.IntN(len(chain)) - 1 // -1: nothing held
			if held >= 0 {
				vc[author] = chain[held].Stamp
				if rnd.IntN(5) > 0 {
					heads[author] = chain[held].Hash
				}
			}
			lo, hi := rnd.IntN(len(chain)), rnd.IntN(len(chain)+1)
			for i := min(lo, hi); i < max(lo, hi); i++ {
				if rnd.IntN(10) > 0 { // sometimes a hole
					in = append(in, chain[i])
				}
				if rnd.IntN(15) == 0 { // sometimes twice
					in = append(in, chain[i])
				}
			}
		}
		for range rnd.IntN(3) {
			in = append(in, Entry{Collection: "c", Key: "u", Stamp: Timestamp{Wall: int64(80 + rnd.IntN(40)), Node: "u"}})
		}
		if rnd.IntN(2) == 0 {
			rnd.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		}
		wantLinked, wantGaps := referenceLink(append([]Entry(nil), in...), vc, heads)
		gotLinked, gotGaps := LinkEntries(in, vc, heads)
		require.Equal(t, len(wantLinked), len(gotLinked), "round %d", round)
		if len(wantLinked) > 0 {
			require.Equal(t, wantLinked, gotLinked, "round %d", round)
		}
		require.Equal(t, wantGaps, gotGaps, "round %d", round)
	}
}

func TestLinkEntries(t *testing.T) {
	a := chainOf("a", 100, 5, "")
	b := chainOf("b", 100, 2, "")
	unchained := Entry{Collection: "c", Key: "u", Stamp: Timestamp{Wall: 100, Node: "u"}}
	keys := func(es []Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Key)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		in       []Entry
		vc       VectorClock
		heads    map[string]string
		linked   []string
		gapsOf   []string
		gapCount int
	}{
		{name: "from genesis, shuffled", in: []Entry{a[3], a[0], a[4], a[1], a[2]},
			linked: keys(a)},
		{name: "held entries dropped", in: a, vc: VectorClock{"a": a[2].Stamp},
			heads: map[string]string{"a": a[2].Hash}, linked: keys(a[3:])},
		{name: "hole", in: []Entry{a[0], a[1], a[3], a[4]}, linked: keys(a[:2]), gapsOf: []string{"a"}, gapCount: 2},
		{name: "duplicates in one batch", in: []Entry{a[0], a[0], a[1]}, linked: keys(a[:2])},
		{name: "two authors and an unchained entry", in: []Entry{b[1], a[0], unchained, b[0]},
			linked: []string{"a-0", "b-0", "b-1", "u"}},
		{name: "unknown head but entries held: trusted", in: a[3:], vc: VectorClock{"a": a[2].Stamp},
			linked: keys(a[3:])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vc := tc.vc
			if vc == nil {
				vc = VectorClock{}
			}
			heads := tc.heads
			if heads == nil {
				heads = map[string]string{}
			}
			linked, gaps := LinkEntries(tc.in, vc, heads)
			assert.Equal(t, tc.linked, keys(linked))
			if len(tc.gapsOf) == 0 {
				assert.Empty(t, gaps)
			} else {
				assert.Equal(t, tc.gapsOf, slices.Sorted(maps.Keys(gaps)))
			}
			n := 0
			for _, g := range gaps {
				n += len(g)
			}
			assert.Equal(t, tc.gapCount, n)
		})
	}
}
