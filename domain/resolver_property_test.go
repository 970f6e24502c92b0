package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// replica mimics a store applying entries one at a time: per key the current
// document and every entry held; on NeedsReplay it replays them all.
type replica struct {
	r       Resolver
	docs    map[string]*Document
	entries map[string][]Entry
	held    map[Timestamp]bool
	replays int
}

func newReplica(r Resolver) *replica {
	return &replica{r: r, docs: map[string]*Document{}, entries: map[string][]Entry{}, held: map[Timestamp]bool{}}
}

func (rp *replica) apply(t *testing.T, e Entry) {
	if !rp.held[e.Stamp] { // a store keeps each entry once in its oplog
		rp.held[e.Stamp] = true
		rp.entries[e.Key] = append(rp.entries[e.Key], e)
	}
	doc, out := rp.r.Resolve(rp.docs[e.Key], &e)
	switch out {
	case Changed:
		rp.docs[e.Key] = &doc
	case Unchanged:
	case NeedsReplay:
		rp.replays++
		rp.docs[e.Key] = Replay(rp.r, rp.entries[e.Key])
	default:
		t.Fatalf("unknown outcome %d", out)
	}
}

// propGen builds random entry sets with a deliberately small vocabulary so
// that writes collide: few keys, authors, walls and field names.
type propGen struct{ rng *rand.Rand }

var (
	propFields = []string{"a", "b", "c", "id", "_id", "tags", "items", "nested"}
	propNodes  = []string{"node-a", "node-b", "node-c", "n:d"}
	propKeys   = []string{"k1", "k2", "k3"}
)

func (g propGen) scalar() any {
	switch g.rng.IntN(5) {
	case 0:
		return nil
	case 1:
		return g.rng.IntN(2) == 0
	case 2:
		return g.rng.IntN(5)
	case 3:
		return float64(g.rng.IntN(100)) / 4
	}
	return []string{"x", "y", "<&>", "ü"}[g.rng.IntN(4)]
}

// idArray is an array of objects all carrying id (or all _id), with ids
// drawn from a small set so that successive writes share elements.
func (g propGen) idArray(depth int) []any {
	n := g.rng.IntN(4)
	idField := "id"
	if g.rng.IntN(3) == 0 {
		idField = "_id"
	}
	arr := make([]any, 0, n)
	for range n {
		el := g.object(depth + 1)
		delete(el, "id")
		delete(el, "_id")
		if g.rng.IntN(2) == 0 {
			el[idField] = g.rng.IntN(4)
		} else {
			el[idField] = fmt.Sprint("e", g.rng.IntN(4))
		}
		arr = append(arr, el)
	}
	return arr
}

func (g propGen) value(depth int) any {
	if depth >= 3 {
		return g.scalar()
	}
	switch g.rng.IntN(6) {
	case 0:
		return g.object(depth + 1)
	case 1:
		return g.idArray(depth)
	case 2: // mixed array
		return []any{g.scalar(), map[string]any{"id": 1}, g.scalar()}
	}
	return g.scalar()
}

func (g propGen) object(depth int) map[string]any {
	n := g.rng.IntN(4)
	obj := make(map[string]any, n)
	for range n {
		obj[propFields[g.rng.IntN(len(propFields))]] = g.value(depth)
	}
	return obj
}

func (g propGen) body() []byte {
	var v any = g.object(0)
	if g.rng.IntN(25) == 0 { // foreign nodes may send any JSON value
		v = []any{g.scalar()}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// entries returns n entries with distinct stamps (a stamp names one write),
// with walls drawn from a narrow range so equal walls are common.
func (g propGen) entries(n int) []Entry {
	out := make([]Entry, 0, n)
	seen := map[Timestamp]bool{}
	for len(out) < n {
		ts := Timestamp{Wall: 1000 + int64(g.rng.IntN(6)), Logical: int32(g.rng.IntN(3)), Node: propNodes[g.rng.IntN(len(propNodes))]}
		if seen[ts] {
			continue
		}
		seen[ts] = true
		e := Entry{Collection: "c", Key: propKeys[g.rng.IntN(len(propKeys))], Stamp: ts}
		if g.rng.IntN(5) == 0 {
			e.Op = OpDelete
		} else {
			e.Op = OpPut
			e.Data = g.body()
		}
		out = append(out, e)
	}
	return out
}

// deliveries is a random permutation of entries with random duplicates.
func (g propGen) deliveries(entries []Entry) []Entry {
	out := append([]Entry(nil), entries...)
	for range g.rng.IntN(len(entries) + 1) {
		out = append(out, entries[g.rng.IntN(len(entries))])
	}
	g.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func sameDoc(a, b *Document) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Collection == b.Collection && a.Key == b.Key && a.Stamp == b.Stamp &&
		a.Deleted == b.Deleted && bytes.Equal(a.Data, b.Data)
}

func describe(d *Document) string {
	if d == nil {
		return "<none>"
	}
	return fmt.Sprintf("%s deleted=%v %s", d.Stamp, d.Deleted, d.Data)
}

// convergenceStats show the generator reaches the interesting paths.
type convergenceStats struct {
	replays int // NeedsReplay outcomes
	merged  int // final live documents whose body is no single entry's body
}

// checkConvergence: replicas fed the same set of entries in different orders,
// with duplicates, end in the same state, and that state is Replay of the set.
func checkConvergence(t *testing.T, r Resolver, seed uint64, cases int) convergenceStats {
	var st convergenceStats
	g := propGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for c := range cases {
		all := g.entries(1 + g.rng.IntN(14))
		byKey := map[string][]Entry{}
		for _, e := range all {
			byKey[e.Key] = append(byKey[e.Key], e)
		}
		var replicas []*replica
		for range 3 {
			rp := newReplica(r)
			for _, e := range g.deliveries(all) {
				rp.apply(t, e)
			}
			replicas = append(replicas, rp)
			st.replays += rp.replays
		}
		for _, key := range propKeys {
			want := Replay(r, byKey[key])
			// Replay itself ignores input order.
			require.True(t, sameDoc(want, Replay(r, g.deliveries(byKey[key]))), "case %d key %s: Replay depends on order", c, key)
			if want != nil && !want.Deleted && !bodyOfSomeEntry(want.Data, byKey[key]) {
				st.merged++
			}
			for i, rp := range replicas {
				got := rp.docs[key]
				if !sameDoc(want, got) {
					t.Fatalf("%s case %d key %s replica %d:\n got  %s\n want %s\nentries: %s",
						r.Name(), c, key, i, describe(got), describe(want), dumpEntries(byKey[key]))
				}
			}
		}
	}
	return st
}

func bodyOfSomeEntry(data []byte, es []Entry) bool {
	for _, e := range es {
		if bytes.Equal(data, e.Data) {
			return true
		}
	}
	return false
}

func dumpEntries(es []Entry) string {
	var b bytes.Buffer
	for _, e := range es {
		fmt.Fprintf(&b, "\n  %s %s %s", e.Stamp, e.Op, e.Data)
	}
	return b.String()
}

func TestLastWriteWinsConverges(t *testing.T) {
	st := checkConvergence(t, LastWriteWins{}, 1, 1500)
	require.Zero(t, st.merged, "LWW only ever shows one entry's body")
}

func TestRecursiveMergeConverges(t *testing.T) {
	st := checkConvergence(t, RecursiveMerge{}, 2, 1000)
	t.Logf("replays: %d, merged final documents: %d", st.replays, st.merged)
	require.Greater(t, st.replays, 1000, "older entries must often arrive after newer ones")
	require.Greater(t, st.merged, 600, "merges must often combine bodies")
}

// The state after the whole set is what the newest entry dictates under LWW.
func TestLastWriteWinsNewestWins(t *testing.T) {
	g := propGen{rng: rand.New(rand.NewPCG(3, 4))}
	for range 300 {
		es := g.entries(1 + g.rng.IntN(10))
		for i := range es {
			es[i].Key = "k"
		}
		newest := es[0]
		for _, e := range es[1:] {
			if e.Stamp.After(newest.Stamp) {
				newest = e
			}
		}
		want := DocumentFromEntry(&newest)
		require.True(t, sameDoc(&want, Replay(LastWriteWins{}, g.deliveries(es))))
	}
}
