package domain

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// evalDoc is the document most evaluator cases run against.
const evalDoc = `{
  "name": "Ada", "age": 36, "score": 7.5, "active": true, "off": false, "nothing": null,
  "tags": ["go", "db", 3, null, true],
  "address": {"city": "Rome", "zip": "00100", "geo": {"lat": 41.9}},
  "empty": "", "list": [], "obj": {}
}`

func TestMatchOperators(t *testing.T) {
	cases := []struct {
		filter string
		want   bool
	}{
		// Eq and implicit equality.
		{`{"name":"Ada"}`, true},
		{`{"name":"ada"}`, false},
		{`{"age":36}`, true},
		{`{"age":36.0}`, true},
		{`{"age":"36"}`, false}, // kinds differ
		{`{"active":true}`, true},
		{`{"active":1}`, false},
		{`{"address.city":"Rome"}`, true},
		{`{"address.geo.lat":41.9}`, true},
		{`{"address.city.x":"Rome"}`, false}, // through a string
		{`{"tags.0":"go"}`, false},           // no array indexing
		{`{"address":"Rome"}`, false},        // object field never Eq a scalar
		{`{"tags":"go"}`, false},             // array field never Eq a scalar
		// Eq null: null or missing.
		{`{"nothing":null}`, true},
		{`{"missing":null}`, true},
		{`{"address.missing":null}`, true},
		{`{"name":null}`, false},
		{`{"off":null}`, false},
		{`{"missing":1}`, false},
		// Ne is NOT Eq.
		{`{"name":{"$ne":"Bob"}}`, true},
		{`{"name":{"$ne":"Ada"}}`, false},
		{`{"missing":{"$ne":1}}`, true},
		{`{"missing":{"$ne":null}}`, false},
		{`{"nothing":{"$ne":null}}`, false},
		{`{"name":{"$ne":null}}`, true},
		{`{"age":{"$ne":"36"}}`, true},
		// Ordering comparisons.
		{`{"age":{"$gt":30}}`, true},
		{`{"age":{"$gt":36}}`, false},
		{`{"age":{"$gte":36}}`, true},
		{`{"age":{"$lt":36}}`, false},
		{`{"age":{"$lte":36}}`, true},
		{`{"age":{"$lt":100,"$gt":0}}`, true},
		{`{"age":{"$lt":100,"$gt":40}}`, false},
		{`{"name":{"$gt":"Ab"}}`, true},
		{`{"name":{"$lt":"a"}}`, true}, // bytes: 'A' < 'a'
		{`{"active":{"$gt":false}}`, true},
		{`{"off":{"$lt":true}}`, true},
		{`{"off":{"$gte":false}}`, true},
		{`{"age":{"$gt":"1"}}`, false},   // kinds differ
		{`{"name":{"$gt":1}}`, false},    // kinds differ
		{`{"active":{"$gte":0}}`, false}, // bool vs number
		{`{"missing":{"$lt":1}}`, false}, // missing never compares
		{`{"missing":{"$gte":null}}`, false},
		{`{"nothing":{"$gte":null}}`, false}, // null never compares
		{`{"nothing":{"$lt":1}}`, false},
		{`{"tags":{"$gt":"a"}}`, false}, // arrays never compare
		{`{"address":{"$gt":"a"}}`, false},
		// In.
		{`{"age":{"$in":[1,36]}}`, true},
		{`{"age":{"$in":[1,"36"]}}`, false},
		{`{"age":{"$in":[]}}`, false},
		{`{"missing":{"$in":[1,null]}}`, true},
		{`{"nothing":{"$in":[null]}}`, true},
		{`{"missing":{"$in":[1]}}`, false},
		// Contains on strings.
		{`{"name":{"$contains":"d"}}`, true},
		{`{"name":{"$contains":"Ada"}}`, true},
		{`{"name":{"$contains":"ada"}}`, false}, // case-sensitive
		{`{"name":{"$contains":""}}`, true},
		{`{"empty":{"$contains":""}}`, true},
		{`{"name":{"$contains":1}}`, false},
		{`{"age":{"$contains":"3"}}`, false}, // numbers are not strings
		// Contains on arrays.
		{`{"tags":{"$contains":"go"}}`, true},
		{`{"tags":{"$contains":"g"}}`, false}, // element equality, not substring
		{`{"tags":{"$contains":3}}`, true},
		{`{"tags":{"$contains":null}}`, true},
		{`{"tags":{"$contains":true}}`, true},
		{`{"tags":{"$contains":false}}`, false},
		{`{"list":{"$contains":null}}`, false},
		{`{"obj":{"$contains":"a"}}`, false},
		{`{"missing":{"$contains":"a"}}`, false},
		{`{"missing":{"$contains":null}}`, false},
		// NotContains is NOT Contains.
		{`{"tags":{"$ncontains":"go"}}`, false},
		{`{"tags":{"$ncontains":"rust"}}`, true},
		{`{"name":{"$ncontains":"x"}}`, true},
		{`{"missing":{"$ncontains":"a"}}`, true},
		{`{"age":{"$ncontains":"3"}}`, true},
		// Logical.
		{`{}`, true},
		{`{"$and":[]}`, true},
		{`{"$or":[]}`, false},
		{`{"$or":[{}]}`, true},
		{`{"$or":[{"name":"Bob"},{"age":36}]}`, true},
		{`{"$or":[{"name":"Bob"},{"age":37}]}`, false},
		{`{"$and":[{"name":"Ada"},{"age":36}]}`, true},
		{`{"$and":[{"name":"Ada"},{"age":37}]}`, false},
		{`{"name":"Ada","age":37}`, false},
		{`{"$or":[{"$and":[{"a":1}]},{"address.city":{"$in":["Rome","Paris"]}}]}`, true},
	}
	var doc any
	require.NoError(t, json.Unmarshal([]byte(evalDoc), &doc))
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			f, err := ParseFilter([]byte(tc.filter))
			require.NoError(t, err)
			require.Equal(t, tc.want, MatchValue(f, doc))
			got, err := Match(f, []byte(evalDoc))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestMatchCodeBuiltFilters(t *testing.T) {
	var doc any
	require.NoError(t, json.Unmarshal([]byte(evalDoc), &doc))
	// Integer values and pointers built in code compare like parsed ones.
	require.True(t, MatchValue(Cmp{Op: OpEq, Path: "age", Value: 36}, doc))
	require.True(t, MatchValue(&Cmp{Op: OpGt, Path: "age", Value: int64(35)}, doc))
	require.True(t, MatchValue(In{Path: "age", Values: []any{uint8(36)}}, doc))
	require.True(t, MatchValue(&And{Filters: []Filter{nil, Cmp{Op: OpEq, Path: "name", Value: "Ada"}}}, doc))
	require.False(t, MatchValue(&Or{}, doc))
	require.True(t, MatchValue(nil, doc))
	// A non-scalar value never matches, and ValidateQuery rejects it.
	f := Cmp{Op: OpEq, Path: "list", Value: []any{}}
	require.False(t, MatchValue(f, doc))
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateQuery(Query{Filter: f})))
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateQuery(Query{Filter: Cmp{Op: CmpOp(99), Path: "a"}})))
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateQuery(Query{Filter: Or{Filters: []Filter{In{Path: "a..b"}}}})))
}

func TestMatchNonObjectDocuments(t *testing.T) {
	// Foreign nodes may store any JSON value: every path is missing.
	for _, data := range []string{`[1,2]`, `"x"`, `3`, `null`} {
		ok, err := Match(Cmp{Op: OpEq, Path: "a", Value: nil}, []byte(data))
		require.NoError(t, err)
		require.True(t, ok, data)
		ok, err = Match(Cmp{Op: OpGt, Path: "a", Value: 1.0}, []byte(data))
		require.NoError(t, err)
		require.False(t, ok, data)
	}
	_, err := Match(Cmp{Op: OpEq, Path: "a", Value: 1.0}, []byte(`{`))
	require.Equal(t, CodeCorruption, CodeOf(err))
	ok, err := Match(nil, []byte(`{`))
	require.NoError(t, err)
	require.True(t, ok)
}

func TestLookupPath(t *testing.T) {
	var doc any
	require.NoError(t, json.Unmarshal([]byte(evalDoc), &doc))
	cases := []struct {
		path  string
		want  any
		found bool
	}{
		{"name", "Ada", true},
		{"nothing", nil, true},
		{"missing", nil, false},
		{"address.city", "Rome", true},
		{"address.geo.lat", 41.9, true},
		{"address.geo.lon", nil, false},
		{"name.first", nil, false},
		{"tags.0", nil, false},
		{"nothing.x", nil, false},
	}
	for _, tc := range cases {
		v, ok := LookupPath(doc, tc.path)
		require.Equal(t, tc.found, ok, tc.path)
		require.Equal(t, tc.want, v, tc.path)
	}
}

func TestCompareForOrder(t *testing.T) {
	// Ascending list: each value is strictly less than the next.
	type val struct {
		v  any
		ok bool
	}
	ascending := []val{
		{nil, false},
		{false, true},
		{true, true},
		{-1.5, true},
		{0.0, true},
		{2.0, true},
		{10.0, true},
		{"", true},
		{"B", true},
		{"a", true},
		{"ab", true},
		{[]any{1.0}, true},
		{[]any{2.0}, true},
		{map[string]any{"a": 1.0}, true},
		{map[string]any{"b": 1.0}, true},
	}
	for i := range ascending {
		for j := range ascending {
			a, b := ascending[i], ascending[j]
			got := CompareForOrder(a.v, a.ok, b.v, b.ok)
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			require.Equal(t, want, got, "compare %v with %v", a.v, b.v)
		}
	}
	// Null and missing rank the same; ints compare like floats.
	require.Equal(t, 0, CompareForOrder(nil, true, nil, false))
	require.Equal(t, 0, CompareForOrder(3, true, 3.0, true))
	// Object keys are compared in canonical (sorted) order, without HTML escaping.
	require.Equal(t, 0, CompareForOrder(map[string]any{"b": 1.0, "a": 2.0}, true, map[string]any{"a": 2.0, "b": 1.0}, true))
	require.Equal(t, -1, CompareForOrder([]any{"<"}, true, []any{"="}, true))
}

func TestApplyQuery(t *testing.T) {
	mk := func(key, data string) Document {
		return Document{Collection: "c", Key: key, Data: []byte(data), Stamp: Timestamp{Wall: 1, Node: "n"}}
	}
	docs := []Document{
		mk("e", `{"age":30,"city":"Rome"}`),
		mk("a", `{"age":40,"city":"Oslo"}`),
		mk("d", `{"age":30,"city":"Rome"}`),
		mk("c", `{"city":"Rome"}`),
		mk("b", `{"age":null,"city":"Paris"}`),
		mk("f", `{"age":"old"}`),
		mk("g", `{"age":true}`),
		{Collection: "c", Key: "z", Deleted: true},
	}
	keys := func(ds []Document) []string {
		out := []string{}
		for _, d := range ds {
			out = append(out, d.Key)
		}
		return out
	}
	cases := []struct {
		name string
		q    Query
		want []string
	}{
		{"all by key, no tombstones", Query{}, []string{"a", "b", "c", "d", "e", "f", "g"}},
		{"filter", Query{Filter: Cmp{Op: OpEq, Path: "city", Value: "Rome"}}, []string{"c", "d", "e"}},
		{"order asc ties by key", Query{OrderBy: &Order{Path: "age"}}, []string{"b", "c", "g", "d", "e", "a", "f"}},
		{"order desc keeps ties by key", Query{OrderBy: &Order{Path: "age", Desc: true}}, []string{"f", "a", "d", "e", "g", "b", "c"}},
		{"skip take", Query{OrderBy: &Order{Path: "age"}, Skip: 2, Take: 3}, []string{"g", "d", "e"}},
		{"take zero is no limit", Query{Skip: 5, Take: 0}, []string{"f", "g"}},
		{"take beyond end", Query{Skip: 5, Take: 10}, []string{"f", "g"}},
		{"skip beyond end", Query{Skip: 50}, []string{}},
		{"filter order page", Query{
			Filter:  Cmp{Op: OpNe, Path: "city", Value: "Oslo"},
			OrderBy: &Order{Path: "city", Desc: true},
			Take:    3,
		}, []string{"c", "d", "e"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]Document(nil), docs...)
			got, err := ApplyQuery(tc.q, in)
			require.NoError(t, err)
			require.Equal(t, tc.want, keys(got))
			require.Equal(t, docs, in, "input must not be reordered")
		})
	}
	_, err := ApplyQuery(Query{Skip: -1}, docs)
	require.Equal(t, CodeInvalidArgument, CodeOf(err))
	_, err = ApplyQuery(Query{OrderBy: &Order{Path: "a."}}, docs)
	require.Equal(t, CodeInvalidArgument, CodeOf(err))
	_, err = ApplyQuery(Query{}, []Document{mk("x", `{bad`)})
	require.Equal(t, CodeCorruption, CodeOf(err))
}

func ExampleParseFilter() {
	f, _ := ParseFilter([]byte(`{"age":{"$gt":30},"city":"Rome"}`))
	ok, _ := Match(f, []byte(`{"age":41,"city":"Rome"}`))
	fmt.Println(ok)
	// Output: true
}
