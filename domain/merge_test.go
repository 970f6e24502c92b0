package domain

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMergeJSON(t *testing.T) {
	cases := []struct {
		name         string
		older, newer string
		want         string
	}{
		{"absent fields kept", `{"a":1,"b":2}`, `{"b":3,"c":4}`, `{"a":1,"b":3,"c":4}`},
		{"nested objects merged", `{"p":{"x":1,"y":{"z":1,"w":2}}}`, `{"p":{"y":{"z":9}}}`, `{"p":{"x":1,"y":{"w":2,"z":9}}}`},
		{"keys sorted", `{"z":1,"a":2}`, `{"m":3}`, `{"a":2,"m":3,"z":1}`},
		{"primitive replaced", `{"a":"x"}`, `{"a":"y"}`, `{"a":"y"}`},
		{"null replaces", `{"a":{"b":1}}`, `{"a":null}`, `{"a":null}`},
		{"type change object to number", `{"a":{"b":1}}`, `{"a":5}`, `{"a":5}`},
		{"type change number to object", `{"a":5}`, `{"a":{"b":1}}`, `{"a":{"b":1}}`},
		{"scalar arrays replaced", `{"a":[1,2,3]}`, `{"a":[4]}`, `{"a":[4]}`},
		{"mixed arrays replaced", `{"a":[{"id":1},2]}`, `{"a":[{"id":2}]}`, `{"a":[{"id":2}]}`},
		{"objects without id replaced", `{"a":[{"id":1}]}`, `{"a":[{"n":2}]}`, `{"a":[{"n":2}]}`},
		{"empty newer array replaces", `{"a":[{"id":1}]}`, `{"a":[]}`, `{"a":[]}`},
		{"empty older array", `{"a":[]}`, `{"a":[{"id":1}]}`, `{"a":[{"id":1}]}`},
		{"id arrays merged, newer order first", `{"a":[{"id":1,"v":"o1","k":1},{"id":2,"v":"o2"},{"id":3,"v":"o3"}]}`,
			`{"a":[{"id":3,"v":"n3"},{"id":4,"v":"n4"},{"id":1,"v":"n1"}]}`,
			`{"a":[{"id":3,"v":"n3"},{"id":4,"v":"n4"},{"id":1,"k":1,"v":"n1"},{"id":2,"v":"o2"}]}`},
		{"_id arrays merged", `{"a":[{"_id":"x","p":1},{"_id":"y"}]}`, `{"a":[{"_id":"x","q":2}]}`,
			`{"a":[{"_id":"x","p":1,"q":2},{"_id":"y"}]}`},
		{"ids compare by JSON text", `{"a":[{"id":1,"v":1}]}`, `{"a":[{"id":"1","v":2}]}`,
			`{"a":[{"id":"1","v":2},{"id":1,"v":1}]}`},
		{"nested id arrays", `{"a":[{"id":1,"s":[{"id":"p","n":1}]}]}`, `{"a":[{"id":1,"s":[{"id":"q"}]}]}`,
			`{"a":[{"id":1,"s":[{"id":"q"},{"id":"p","n":1}]}]}`},
		{"duplicate ids pair in order", `{"a":[{"id":1,"v":"a"},{"id":1,"v":"b"}]}`, `{"a":[{"id":1,"w":1},{"id":1,"w":2},{"id":1,"w":3}]}`,
			`{"a":[{"id":1,"v":"a","w":1},{"id":1,"v":"b","w":2},{"id":1,"w":3}]}`},
		{"numbers kept as written", `{"big":12345678901234567890,"f":1.50}`, `{"g":1e3}`, `{"big":12345678901234567890,"f":1.50,"g":1e3}`},
		{"no HTML escaping", `{"a":"<b>&"}`, `{"c":"é"}`, `{"a":"<b>&","c":"é"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := MergeJSON([]byte(tc.older), []byte(tc.newer))
			require.True(t, ok)
			require.Equal(t, tc.want, string(got))
		})
	}
	for _, pair := range [][2]string{{`[1]`, `{"a":1}`}, {`{"a":1}`, `"x"`}, {`{`, `{}`}, {`{}`, `null`}, {`{} {}`, `{}`}} {
		_, ok := MergeJSON([]byte(pair[0]), []byte(pair[1]))
		require.False(t, ok, "%s + %s", pair[0], pair[1])
	}
}

func TestRecursiveMergeResolve(t *testing.T) {
	r := RecursiveMerge{}
	require.Equal(t, "merge", r.Name())
	ts := func(wall int64, node string) Timestamp { return Timestamp{Wall: wall, Node: node} }
	put := func(wall int64, node, body string) *Entry {
		return &Entry{Collection: "c", Key: "k", Op: OpPut, Data: []byte(body), Stamp: ts(wall, node)}
	}
	del := func(wall int64, node string) *Entry {
		return &Entry{Collection: "c", Key: "k", Op: OpDelete, Stamp: ts(wall, node)}
	}
	live := &Document{Collection: "c", Key: "k", Data: []byte(`{"a":1}`), Stamp: ts(10, "n")}
	tomb := &Document{Collection: "c", Key: "k", Stamp: ts(10, "n"), Deleted: true}

	t.Run("first put kept as written", func(t *testing.T) {
		doc, out := r.Resolve(nil, put(5, "n", `{"z":1, "a":2}`))
		require.Equal(t, Changed, out)
		require.Equal(t, `{"z":1, "a":2}`, string(doc.Data))
		require.Equal(t, ts(5, "n"), doc.Stamp)
	})
	t.Run("first delete is a tombstone", func(t *testing.T) {
		doc, out := r.Resolve(nil, del(5, "n"))
		require.Equal(t, Changed, out)
		require.True(t, doc.Deleted)
		require.Nil(t, doc.Data)
	})
	t.Run("newer put merges", func(t *testing.T) {
		doc, out := r.Resolve(live, put(11, "m", `{"b":2}`))
		require.Equal(t, Changed, out)
		require.Equal(t, `{"a":1,"b":2}`, string(doc.Data))
		require.Equal(t, ts(11, "m"), doc.Stamp)
		require.False(t, doc.Deleted)
		require.Equal(t, `{"a":1}`, string(live.Data), "current must not be modified")
	})
	t.Run("equal stamp is unchanged", func(t *testing.T) {
		doc, out := r.Resolve(live, put(10, "n", `{"b":2}`))
		require.Equal(t, Unchanged, out)
		require.Equal(t, *live, doc)
	})
	t.Run("older entry needs replay", func(t *testing.T) {
		_, out := r.Resolve(live, put(10, "a", `{"b":2}`))
		require.Equal(t, NeedsReplay, out)
		_, out = r.Resolve(tomb, del(9, "z"))
		require.Equal(t, NeedsReplay, out)
	})
	t.Run("newer delete makes a tombstone", func(t *testing.T) {
		doc, out := r.Resolve(live, del(11, "n"))
		require.Equal(t, Changed, out)
		require.True(t, doc.Deleted)
		require.Nil(t, doc.Data)
	})
	t.Run("put on tombstone resurrects with its body alone", func(t *testing.T) {
		doc, out := r.Resolve(tomb, put(11, "n", `{"b":2}`))
		require.Equal(t, Changed, out)
		require.False(t, doc.Deleted)
		require.Equal(t, `{"b":2}`, string(doc.Data))
	})
	t.Run("non-object bodies taken whole", func(t *testing.T) {
		doc, _ := r.Resolve(live, put(11, "n", `[1,2]`))
		require.Equal(t, `[1,2]`, string(doc.Data))
		arr := &Document{Collection: "c", Key: "k", Data: []byte(`"s"`), Stamp: ts(10, "n")}
		doc, _ = r.Resolve(arr, put(11, "n", `{"b":2}`))
		require.Equal(t, `{"b":2}`, string(doc.Data))
	})
	t.Run("replay is the stamp-order fold", func(t *testing.T) {
		entries := []Entry{
			*put(30, "a", `{"c":3,"a":"x"}`),
			*put(10, "a", `{"a":1,"list":[{"id":1,"v":1}]}`),
			*del(15, "b"),
			*put(20, "b", `{"b":2,"list":[{"id":2}]}`),
			*put(25, "a", `{"list":[{"id":1,"w":1},{"id":2,"w":2}]}`),
			*put(20, "b", `{"b":2,"list":[{"id":2}]}`), // duplicate
		}
		doc := Replay(r, entries)
		require.NotNil(t, doc)
		// 20/b resurrects after the delete at 15, dropping a and id 1.
		require.Equal(t, `{"a":"x","b":2,"c":3,"list":[{"id":1,"w":1},{"id":2,"w":2}]}`, string(doc.Data))
		require.Equal(t, ts(30, "a"), doc.Stamp)
	})
}

func TestResolverByName(t *testing.T) {
	r, err := ResolverByName("")
	require.NoError(t, err)
	require.Equal(t, "lww", r.Name())
	r, err = ResolverByName("merge")
	require.NoError(t, err)
	require.Equal(t, "merge", r.Name())
	_, err = ResolverByName("crdt")
	require.Equal(t, CodeConfig, CodeOf(err))
}
