package domain

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVectorClockCompare(t *testing.T) {
	a1 := Timestamp{Wall: 1, Node: "a"}
	a2 := Timestamp{Wall: 2, Node: "a"}
	b1 := Timestamp{Wall: 1, Node: "b"}
	cases := []struct {
		name string
		v, o VectorClock
		want Ordering
	}{
		{"both empty", VectorClock{}, VectorClock{}, Equal},
		{"nil and empty", nil, VectorClock{}, Equal},
		{"same", VectorClock{"a": a1, "b": b1}, VectorClock{"a": a1, "b": b1}, Equal},
		{"newer stamp", VectorClock{"a": a2}, VectorClock{"a": a1}, Ahead},
		{"older stamp", VectorClock{"a": a1}, VectorClock{"a": a2}, Behind},
		{"extra author", VectorClock{"a": a1, "b": b1}, VectorClock{"a": a1}, Ahead},
		{"missing author", VectorClock{"a": a1}, VectorClock{"a": a1, "b": b1}, Behind},
		{"zero stamp counts as absent", VectorClock{"a": a1}, VectorClock{"a": a1, "b": {}}, Equal},
		{"concurrent", VectorClock{"a": a2}, VectorClock{"a": a1, "b": b1}, Concurrent},
		{"disjoint", VectorClock{"a": a1}, VectorClock{"b": b1}, Concurrent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.v.Compare(tc.o))
			mirror := map[Ordering]Ordering{Equal: Equal, Ahead: Behind, Behind: Ahead, Concurrent: Concurrent}
			require.Equal(t, mirror[tc.want], tc.o.Compare(tc.v))
		})
	}
	require.Equal(t, "Concurrent", Concurrent.String())
}

func TestVectorClockDelta(t *testing.T) {
	ts := func(wall int64, node string) Timestamp { return Timestamp{Wall: wall, Node: node} }
	local := VectorClock{"a": ts(5, "a"), "b": ts(1, "b"), "c": ts(3, "c"), "e": ts(1, "e")}
	peer := VectorClock{"a": ts(5, "a"), "b": ts(2, "b"), "c": ts(2, "c"), "d": ts(1, "d")}
	pull, push := local.Delta(peer)
	require.Equal(t, []string{"b", "d"}, pull)
	require.Equal(t, []string{"c", "e"}, push)

	pull, push = local.Delta(local.Clone())
	require.Empty(t, pull)
	require.Empty(t, push)
}

func TestVectorClockObserveCloneMax(t *testing.T) {
	v := VectorClock{}
	require.True(t, v.Max().IsZero())
	v.Observe(Timestamp{Wall: 5, Node: "a"})
	v.Observe(Timestamp{Wall: 3, Node: "a"}) // older: ignored
	v.Observe(Timestamp{Wall: 4, Logical: 2, Node: "b"})
	require.Equal(t, Timestamp{Wall: 5, Node: "a"}, v["a"])
	require.Equal(t, Timestamp{Wall: 5, Node: "a"}, v.Max())

	c := v.Clone()
	c.Observe(Timestamp{Wall: 9, Node: "a"})
	require.Equal(t, int64(5), v["a"].Wall, "clone is independent")
	require.Equal(t, Ahead, c.Compare(v))
}

func TestVectorClockNormalize(t *testing.T) {
	vc := VectorClock{"a": {Wall: 1}, "b": {Wall: 2, Node: "other"},
		strings.Repeat("n", MaxNodeIDBytes+1): {Wall: 3}, "\xff": {Wall: 4}}
	got := vc.Normalize()
	require.Equal(t, VectorClock{"a": {Wall: 1, Node: "a"}, "b": {Wall: 2, Node: "b"}}, got)
	require.Equal(t, "", vc["a"].Node, "the original is left alone")
	require.NotNil(t, VectorClock(nil).Normalize())
}
