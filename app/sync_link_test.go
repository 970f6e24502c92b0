package app

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// referenceLink is linkEntries as first written (entries copied per
// author): the rewrite that groups by index must give the same answer.
func referenceLink(entries []domain.Entry, vc domain.VectorClock, heads map[string]string) (linked []domain.Entry, gaps map[string][]domain.Entry) {
	byAuthor := map[string][]domain.Entry{}
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
		var rest []domain.Entry
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
				gaps = map[string][]domain.Entry{}
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
	chains := map[string][]domain.Entry{
		"a": chainOf("a", 100, 30, ""),
		"b": chainOf("b", 100, 20, ""),
		"c": chainOf("c", 90, 25, ""),
	}
	for round := range 2000 {
		var in []domain.Entry
		vc := domain.VectorClock{}
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
			in = append(in, domain.Entry{Collection: "c", Key: "u", Stamp: domain.Timestamp{Wall: int64(80 + rnd.IntN(40)), Node: "u"}})
		}
		if rnd.IntN(2) == 0 {
			rnd.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		}
		wantLinked, wantGaps := referenceLink(append([]domain.Entry(nil), in...), vc, heads)
		gotLinked, gotGaps := linkEntries(in, vc, heads)
		require.Equal(t, len(wantLinked), len(gotLinked), "round %d", round)
		if len(wantLinked) > 0 {
			require.Equal(t, wantLinked, gotLinked, "round %d", round)
		}
		require.Equal(t, wantGaps, gotGaps, "round %d", round)
	}
}

// A rejected entry in the middle of a page leaves the others, in order.
func TestValidateEntriesKeepsOrder(t *testing.T) {
	clock := domain.NewClock("me", func() int64 { return time.Now().UnixMilli() }, testMaxDrift)
	page := chainOf("a", time.Now().UnixMilli(), 6, "")
	page[2].Hash = page[3].Hash // tampered
	page[4].Stamp.Node = ""     // no author
	valid, rejected := validateEntries(clock, page)
	require.Len(t, rejected, 2)
	require.Equal(t, []domain.Entry{page[0], page[1], page[3], page[5]}, valid)

	valid, rejected = validateEntries(clock, page[:2])
	require.Empty(t, rejected)
	require.Equal(t, page[:2], valid)
}
