package domain

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRemovable(t *testing.T) {
	const now = int64(100 * time.Hour / time.Millisecond)
	at := func(ago time.Duration) Timestamp {
		return Timestamp{Wall: now - ago.Milliseconds(), Node: "a"}
	}
	entry := func(op Op, ago time.Duration) *Entry { return &Entry{Op: op, Stamp: at(ago)} }
	policy := func(held time.Duration) CompactionPolicy {
		p := CompactionPolicy{Now: now, OplogRetention: 24 * time.Hour, TombstoneRetention: 48 * time.Hour, HeldByAll: VectorClock{}}
		if held >= 0 {
			p.HeldByAll["a"] = at(held)
		}
		return p
	}
	cases := []struct {
		name                   string
		e                      *Entry
		heldAgo                time.Duration // -1: held by no one
		authorHead, superseded bool
		want                   bool
	}{
		{"superseded and held", entry(OpPut, time.Hour), 0, false, true, true},
		{"the author's head stays", entry(OpPut, time.Hour), 0, true, true, false},
		{"newest put is the value", entry(OpPut, 90*time.Hour), 0, false, false, false},
		{"superseded, not held, within retention", entry(OpPut, time.Hour), 2 * time.Hour, false, true, false},
		{"superseded, not held, past retention", entry(OpPut, 25*time.Hour), -1, false, true, true},
		{"tombstone held but young", entry(OpDelete, 47*time.Hour), 0, false, false, false},
		{"tombstone held and old", entry(OpDelete, 49*time.Hour), 0, false, false, true},
		{"tombstone not held never goes", entry(OpDelete, 90*time.Hour), 91 * time.Hour, false, false, false},
		{"tombstone held by no one", entry(OpDelete, 90*time.Hour), -1, false, false, false},
		{"superseded delete is an old version", entry(OpDelete, time.Hour), 0, false, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, policy(c.heldAgo).Removable(c.e, c.authorHead, c.superseded))
		})
	}
}

func TestHeldByAll(t *testing.T) {
	ts := func(node string, wall int64) Timestamp { return Timestamp{Wall: wall, Node: node} }
	own := VectorClock{"a": ts("a", 10), "b": ts("b", 20), "c": ts("c", 5)}
	require.Equal(t, own, HeldByAll(own, nil), "a lone node keeps history for no one")
	got := HeldByAll(own, []VectorClock{
		{"a": ts("a", 7), "b": ts("b", 30), "c": ts("c", 5)},
		{"a": ts("a", 9), "b": ts("b", 15)},
	})
	require.Equal(t, VectorClock{"a": ts("a", 7), "b": ts("b", 15)}, got,
		"the minimum over peers, never past what we hold, nothing of an author some peer lacks entirely")
}

func TestReplaysHistory(t *testing.T) {
	require.False(t, ReplaysHistory(LastWriteWins{}))
	require.True(t, ReplaysHistory(RecursiveMerge{}))
}

// TestCompactionProperty applies the rule to random histories the way a
// store does (LWW documents, markers left by collected deletes) and checks
// what it promises: nothing a known peer lacks goes before the retention,
// no tombstone goes before every peer holds it, heads and newest versions
// stay, and no document's value changes.
func TestCompactionProperty(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 17))
			authors := []string{"a", "b", "c"}
			var log []Entry
			docs := map[string]Document{}
			walls := map[string]int64{}
			for range 10 + rng.IntN(60) {
				a := authors[rng.IntN(len(authors))]
				walls[a] += 1 + int64(rng.IntN(1000))
				e := Entry{Key: fmt.Sprint("k", rng.IntN(5)), Op: OpPut, Data: []byte(fmt.Sprint(rng.Int())),
					Stamp: Timestamp{Wall: walls[a], Node: a}}
				if rng.IntN(4) == 0 {
					e.Op, e.Data = OpDelete, nil
				}
				log = append(log, e)
				if cur, ok := docs[e.Key]; !ok || e.Stamp.After(cur.Stamp) {
					docs[e.Key] = DocumentFromEntry(&e)
				}
			}
			own := VectorClock{}
			for _, e := range log {
				own.Observe(e.Stamp)
			}
			var peers []VectorClock
			for range rng.IntN(3) {
				vc := VectorClock{}
				for _, a := range authors {
					if rng.IntN(4) > 0 && walls[a] > 0 {
						vc[a] = Timestamp{Wall: rng.Int64N(walls[a] + 1), Node: a}
					}
				}
				peers = append(peers, vc)
			}
			now := max(walls["a"], walls["b"], walls["c"]) + int64(rng.IntN(500))
			p := CompactionPolicy{HeldByAll: HeldByAll(own, peers), Now: now,
				OplogRetention: time.Duration(rng.IntN(3000)) * time.Millisecond, TombstoneRetention: time.Duration(rng.IntN(3000)) * time.Millisecond}
			heldByEvery := func(e *Entry) bool {
				for _, vc := range peers {
					if h, ok := vc[e.Author()]; !ok || e.Stamp.After(h) {
						return false
					}
				}
				return true
			}

			var kept []Entry
			for i := range log {
				e := &log[i]
				head := own[e.Author()] == e.Stamp
				superseded := docs[e.Key].Stamp.After(e.Stamp)
				if !p.Removable(e, head, superseded) {
					kept = append(kept, *e)
					continue
				}
				require.False(t, head, "an author's head was removed")
				require.True(t, superseded || e.Op == OpDelete, "a document's value was removed")
				if !heldByEvery(e) {
					require.True(t, superseded && e.Stamp.Wall < now-p.OplogRetention.Milliseconds(),
						"an entry a peer lacks was removed within the retention")
				}
			}
			// Replaying what is kept from scratch gives every document its
			// value; where the newest entry went, the document is deleted
			// and its row stays as the marker.
			for key, want := range docs {
				var cur *Document
				if !slices.ContainsFunc(kept, func(e Entry) bool { return e.Key == key && e.Stamp == want.Stamp }) {
					require.True(t, want.Deleted, "the newest version of live document %s was removed", key)
					marker := Document{Key: key, Stamp: want.Stamp, Deleted: true}
					cur = &marker
				}
				for i := range kept {
					if kept[i].Key == key {
						if d, out := (LastWriteWins{}).Resolve(cur, &kept[i]); out == Changed {
							cur = &d
						}
					}
				}
				require.Equal(t, want, *cur, "document %s changed", key)
			}
		})
	}
}
