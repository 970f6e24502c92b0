package domain

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// randomStamp draws stamps from a small space so that groups and nodes
// collide often, logical edges (0 and MaxInt32) included. Wall 0 is left to
// TestGroupBoundsOfZero: the (0, 0) group's bounds are the zero stamp.
func randomStamp(rnd *rand.Rand) Timestamp {
	logical := []int32{0, 1, 2, math.MaxInt32 - 1, math.MaxInt32}[rnd.IntN(5)]
	return Timestamp{Wall: 1 + int64(rnd.IntN(3)), Logical: logical, Node: []string{"", "a", "b", "zz"}[rnd.IntN(4)]}
}

func sameGroup(a, b Timestamp) bool { return a.Wall == b.Wall && a.Logical == b.Logical }

func TestGroupBoundsProperties(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 20_000 {
		ts, u := randomStamp(rnd), randomStamp(rnd)
		require.Equal(t, u.GroupAfter(ts), !sameGroup(u, ts) && u.After(ts), "GroupAfter(%v, %v)", u, ts)

		// Strictly after the ceiling: exactly the later groups.
		require.Equal(t, u.GroupAfter(ts), u.After(ts.GroupCeiling()), "%v after ceiling of %v", u, ts)
		// Strictly after the bound before the group: that group and later ones.
		want := sameGroup(u, ts) || u.GroupAfter(ts)
		require.Equal(t, want, u.After(ts.BeforeGroup()), "%v after the bound before %v", u, ts)
	}
}

func TestGroupBoundsOfZero(t *testing.T) {
	require.Equal(t, Timestamp{}, Timestamp{}.GroupCeiling())
	require.Equal(t, Timestamp{}, Timestamp{Node: "a"}.GroupCeiling(), "the node of a since stamp is ignored")
	require.Equal(t, Timestamp{}, Timestamp{}.BeforeGroup())
}

func TestPrevProperties(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 20_000 {
		ts, u := randomStamp(rnd), randomStamp(rnd)
		u.Node = ts.Node
		p := ts.Prev()
		require.True(t, p.Before(ts), "%v.Prev() = %v", ts, p)
		require.Equal(t, ts.Node, p.Node)
		// No stamp of the same node lies strictly between Prev and ts.
		require.False(t, u.After(p) && u.Before(ts), "%v between %v and %v", u, p, ts)
	}
	require.Equal(t, Timestamp{Wall: 4, Logical: math.MaxInt32, Node: "a"}, Timestamp{Wall: 5, Node: "a"}.Prev())
	require.Equal(t, Timestamp{}, Timestamp{Node: "a"}.Prev())
}
