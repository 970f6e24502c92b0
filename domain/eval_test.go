package domain

import (
	"bytes"
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
  "empty": "", "list": [], "obj": {},
  "big": 9007199254740993, "huge": 18446744073709551617,
  "items": [{"sku": "a", "qty": 5}, {"sku": "b", "qty": 20, "tags": ["x"]}, {"other": 1}, 7]
}`

func matchDoc(t *testing.T, f Filter, doc string) bool {
	t.Helper()
	m, err := CompileFilter(f)
	require.NoError(t, err)
	ok, err := m.MatchJSON([]byte(doc))
	require.NoError(t, err)
	return ok
}

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
		{`{"age":3.6e1}`, true},
		{`{"age":"36"}`, false}, // kinds differ
		{`{"active":true}`, true},
		{`{"active":1}`, false},
		{`{"address.city":"Rome"}`, true},
		{`{"address.geo.lat":41.9}`, true},
		{`{"address.city.x":"Rome"}`, false}, // through a string
		{`{"address":"Rome"}`, false},        // object field never Eq a scalar
		{`{"address":{"zip":"00100","city":"Rome","geo":{"lat":41.9}}}`, true}, // whole object, any key order
		{`{"address":{"city":"Rome"}}`, false},
		// Arrays: element matching, positions, whole arrays.
		{`{"tags":"go"}`, true},
		{`{"tags":3}`, true},
		{`{"tags":"rust"}`, false},
		{`{"tags.0":"go"}`, true},
		{`{"tags.1":"go"}`, false},
		{`{"tags.9":null}`, true}, // past the end is missing
		{`{"tags":["go","db",3,null,true]}`, true},
		{`{"tags":["db","go",3,null,true]}`, false}, // order matters
		{`{"list":[]}`, true},
		{`{"items.qty":20}`, true}, // through an array of objects
		{`{"items.qty":{"$lt":10}}`, true},
		{`{"items.qty":{"$gt":20}}`, false},
		{`{"items.1.sku":"b"}`, true},
		{`{"items.0.sku":"b"}`, false},
		{`{"items.tags":"x"}`, true},
		{`{"items.sku":null}`, true}, // {"other":1} has no sku
		// Exact integers beyond 2^53 and 2^64.
		{`{"big":9007199254740993}`, true},
		{`{"big":9007199254740992}`, false},
		{`{"big":{"$gt":9007199254740992}}`, true},
		{`{"big":{"$lt":9007199254740993.5}}`, true},
		{`{"huge":18446744073709551617}`, true},
		{`{"huge":18446744073709551616}`, false},
		{`{"huge":{"$gt":18446744073709551616}}`, true},
		// Eq null: null or missing.
		{`{"nothing":null}`, true},
		{`{"missing":null}`, true},
		{`{"address.missing":null}`, true},
		{`{"name":null}`, false},
		{`{"off":null}`, false},
		{`{"missing":1}`, false},
		{`{"tags":null}`, true}, // an element is null
		{`{"list":null}`, false},
		// Ne is NOT Eq.
		{`{"name":{"$ne":"Bob"}}`, true},
		{`{"name":{"$ne":"Ada"}}`, false},
		{`{"missing":{"$ne":1}}`, true},
		{`{"missing":{"$ne":null}}`, false},
		{`{"nothing":{"$ne":null}}`, false},
		{`{"name":{"$ne":null}}`, true},
		{`{"age":{"$ne":"36"}}`, true},
		{`{"tags":{"$ne":"go"}}`, false}, // an element is "go"
		{`{"tags":{"$ne":"rust"}}`, true},
		// Ordering comparisons: only within a kind.
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
		{`{"age":{"$gt":"1"}}`, false},
		{`{"name":{"$gt":1}}`, false},
		{`{"active":{"$gte":0}}`, false},
		{`{"missing":{"$lt":1}}`, false},
		{`{"missing":{"$gte":null}}`, true}, // missing compares as null
		{`{"nothing":{"$lte":null}}`, true},
		{`{"nothing":{"$gt":null}}`, false},
		{`{"nothing":{"$lt":1}}`, false},
		{`{"tags":{"$gt":"a"}}`, true}, // an element is
		{`{"tags":{"$gt":"z"}}`, false},
		{`{"address":{"$gt":"a"}}`, false},
		// In and Nin.
		{`{"age":{"$in":[1,36]}}`, true},
		{`{"age":{"$in":[1,"36"]}}`, false},
		{`{"age":{"$in":[]}}`, false},
		{`{"missing":{"$in":[1,null]}}`, true},
		{`{"nothing":{"$in":[null]}}`, true},
		{`{"missing":{"$in":[1]}}`, false},
		{`{"tags":{"$in":["rust","db"]}}`, true},
		{`{"age":{"$in":[1,2,3,4,5,6,7,8,9,10,36.0]}}`, true}, // hashed
		{`{"age":{"$in":[1,2,3,4,5,6,7,8,9,10,"36"]}}`, false},
		{`{"age":{"$nin":[1,36]}}`, false},
		{`{"missing":{"$nin":[1]}}`, true},
		{`{"tags":{"$nin":["rust"]}}`, true},
		{`{"tags":{"$nin":["db"]}}`, false},
		// Exists.
		{`{"nothing":{"$exists":true}}`, true},
		{`{"missing":{"$exists":true}}`, false},
		{`{"missing":{"$exists":false}}`, true},
		{`{"items.sku":{"$exists":true}}`, true},
		{`{"items.nope":{"$exists":true}}`, false},
		{`{"tags.4":{"$exists":true}}`, true},
		{`{"tags.5":{"$exists":true}}`, false},
		// Not.
		{`{"age":{"$not":{"$gt":40}}}`, true},
		{`{"age":{"$not":{"$gt":30}}}`, false},
		{`{"missing":{"$not":{"$gt":30}}}`, true},
		{`{"name":{"$not":{"$regex":"^a","$options":"i"}}}`, false},
		// Regex.
		{`{"name":{"$regex":"^A"}}`, true},
		{`{"name":{"$regex":"^a"}}`, false},
		{`{"name":{"$regex":"^a","$options":"i"}}`, true},
		{`{"tags":{"$regex":"^d"}}`, true},
		{`{"age":{"$regex":"3"}}`, false}, // numbers are not strings
		{`{"missing":{"$regex":""}}`, false},
		// All.
		{`{"tags":{"$all":["go","db"]}}`, true},
		{`{"tags":{"$all":["go","rust"]}}`, false},
		{`{"tags":{"$all":[]}}`, false},
		{`{"name":{"$all":["Ada"]}}`, true},
		// Size.
		{`{"tags":{"$size":5}}`, true},
		{`{"tags":{"$size":4}}`, false},
		{`{"list":{"$size":0}}`, true},
		{`{"name":{"$size":0}}`, false},
		// ElemMatch.
		{`{"items":{"$elemMatch":{"sku":"b","qty":{"$gt":10}}}}`, true},
		{`{"items":{"$elemMatch":{"sku":"a","qty":{"$gt":10}}}}`, false},
		{`{"items":{"$elemMatch":{"$gt":5}}}`, true}, // the element 7
		{`{"items":{"$elemMatch":{"$gt":7}}}`, false},
		{`{"items":{"$elemMatch":{"nope":null}}}`, true}, // object elements only: 7 is not one
		{`{"tags":{"$elemMatch":{"$regex":"^g"}}}`, true},
		{`{"name":{"$elemMatch":{"$eq":"Ada"}}}`, false},
		{`{"items":{"$elemMatch":{"$or":[{"sku":"z"},{"other":1}]}}}`, true},
		// Type.
		{`{"name":{"$type":"string"}}`, true},
		{`{"age":{"$type":"int"}}`, true},
		{`{"age":{"$type":"number"}}`, true},
		{`{"age":{"$type":"double"}}`, false},
		{`{"score":{"$type":"double"}}`, true},
		{`{"big":{"$type":"long"}}`, true},
		{`{"huge":{"$type":"double"}}`, true},
		{`{"nothing":{"$type":"null"}}`, true},
		{`{"missing":{"$type":"null"}}`, false},
		{`{"tags":{"$type":"array"}}`, true},
		{`{"tags":{"$type":"bool"}}`, true}, // an element is
		{`{"address":{"$type":3}}`, true},
		{`{"age":{"$type":["string","bool"]}}`, false},
		// Contains on strings.
		{`{"name":{"$contains":"d"}}`, true},
		{`{"name":{"$contains":"ada"}}`, false}, // case-sensitive
		{`{"name":{"$contains":""}}`, true},
		{`{"name":{"$contains":1}}`, false},
		{`{"age":{"$contains":"3"}}`, false},
		// Contains on arrays: element equality, not substring.
		{`{"tags":{"$contains":"go"}}`, true},
		{`{"tags":{"$contains":"g"}}`, false},
		{`{"tags":{"$contains":3}}`, true},
		{`{"tags":{"$contains":null}}`, true},
		{`{"tags":{"$contains":false}}`, false},
		{`{"list":{"$contains":null}}`, false},
		{`{"missing":{"$contains":null}}`, false},
		{`{"tags":{"$ncontains":"go"}}`, false},
		{`{"missing":{"$ncontains":"a"}}`, true},
		// Logical.
		{`{}`, true},
		{`{"$or":[{}]}`, true},
		{`{"$or":[{"name":"Bob"},{"age":36}]}`, true},
		{`{"$or":[{"name":"Bob"},{"age":37}]}`, false},
		{`{"$and":[{"name":"Ada"},{"age":36}]}`, true},
		{`{"$and":[{"name":"Ada"},{"age":37}]}`, false},
		{`{"$nor":[{"name":"Bob"},{"age":37}]}`, true},
		{`{"$nor":[{"name":"Ada"}]}`, false},
		{`{"name":"Ada","age":37}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			f, err := ParseFilter([]byte(tc.filter))
			require.NoError(t, err)
			got, err := Match(f, []byte(evalDoc))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestMatchCodeBuiltFilters(t *testing.T) {
	// Go numbers and pointers built in code compare like parsed ones.
	require.True(t, matchDoc(t, Cmp{Op: OpEq, Path: "age", Value: 36}, evalDoc))
	require.True(t, matchDoc(t, &Cmp{Op: OpGt, Path: "age", Value: int64(35)}, evalDoc))
	require.True(t, matchDoc(t, In{Path: "age", Values: []any{uint8(36)}}, evalDoc))
	require.True(t, matchDoc(t, Cmp{Op: OpEq, Path: "big", Value: uint64(9007199254740993)}, evalDoc))
	require.False(t, matchDoc(t, Cmp{Op: OpEq, Path: "big", Value: float64(9007199254740993)}, evalDoc)) // that float is ...992
	require.True(t, matchDoc(t, &And{Filters: []Filter{nil, Cmp{Op: OpEq, Path: "name", Value: "Ada"}}}, evalDoc))
	require.True(t, matchDoc(t, And{}, evalDoc), "And of nothing is true")
	require.False(t, matchDoc(t, &Or{}, evalDoc), "Or of nothing is false")
	require.True(t, matchDoc(t, nil, evalDoc))
	require.True(t, matchDoc(t, Cmp{Op: OpEq, Path: "list", Value: []any{}}, evalDoc))
	for name, f := range map[string]Filter{
		"unknown op":      Cmp{Op: CmpOp(99), Path: "a"},
		"empty segment":   Or{Filters: []Filter{In{Path: "a..b"}}},
		"NaN":             Cmp{Op: OpEq, Path: "a", Value: nanValue()},
		"Go type":         Cmp{Op: OpEq, Path: "a", Value: struct{}{}},
		"bad regex":       Regex{Path: "a", Pattern: "("},
		"bad option":      Regex{Path: "a", Pattern: "x", Options: "x"},
		"negative size":   Size{Path: "a", Len: -1},
		"unknown type":    Type{Path: "a", Types: []string{"date"}},
		"empty path":      Exists{Path: ""},
		"invalid UTF-8":   Cmp{Op: OpEq, Path: "a\xff", Value: 1},
		"bad json.Number": Cmp{Op: OpEq, Path: "a", Value: jsonNumber("1x")},
	} {
		require.Equal(t, CodeInvalidArgument, CodeOf(ValidateQuery(Query{Filter: f})), name)
	}
}

func TestMatchNonObjectDocuments(t *testing.T) {
	// Foreign nodes may store any JSON value: every path is missing.
	for _, data := range []string{`[1,2]`, `"x"`, `3`, `null`} {
		require.True(t, matchDoc(t, Cmp{Op: OpEq, Path: "a", Value: nil}, data), data)
		require.False(t, matchDoc(t, Cmp{Op: OpGt, Path: "a", Value: 1.0}, data), data)
	}
	_, err := Match(Cmp{Op: OpEq, Path: "a", Value: 1.0}, []byte(`{`))
	require.Equal(t, CodeCorruption, CodeOf(err))
	ok, err := Match(nil, []byte(`{`))
	require.NoError(t, err)
	require.True(t, ok)
}

func TestFilterLimits(t *testing.T) {
	deep := Filter(Cmp{Op: OpEq, Path: "a", Value: 1})
	for range MaxFilterDepth + 1 {
		deep = And{Filters: []Filter{deep, Cmp{Op: OpEq, Path: "b", Value: 1}}}
	}
	err := ValidateQuery(Query{Filter: deep})
	require.Equal(t, CodeInvalidArgument, CodeOf(err))
	require.Contains(t, err.Error(), fmt.Sprint(MaxFilterDepth))
	big := make([]any, MaxFilterTerms+1)
	for i := range big {
		big[i] = i
	}
	err = ValidateQuery(Query{Filter: In{Path: "a", Values: big}})
	require.Equal(t, CodeInvalidArgument, CodeOf(err))
	require.Contains(t, err.Error(), fmt.Sprint(MaxFilterTerms))
	sorts := make([]Order, MaxSortFields+1)
	for i := range sorts {
		sorts[i] = Order{Path: "a"}
	}
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateQuery(Query{Sort: sorts})))
}

func TestSortKeyOrder(t *testing.T) {
	// Each value sorts strictly before the next (MongoDB's BSON order).
	ascending := []string{
		`[]`, `null`, `-1e400000000000000000`, `-1.5`, `-1`, `0`, `1e-7`, `2`, `9007199254740992`, `9007199254740993`,
		`18446744073709551617`, `1e300`, `""`, `"\u0000"`, `"B"`, `"a"`, `"a\u0000"`, `"ab"`,
		`{}`, `{"a":1}`, `{"a":1,"b":1}`, `{"a":2}`, `{"b":0}`,
		`[[]]`, `[[1]]`, `false`, `true`,
	}
	key := func(s string) []byte {
		v, err := DecodeJSON([]byte(`{"f":` + s + `}`))
		require.NoError(t, err)
		if s == `[]` {
			return SortKey(v, "f", false)
		}
		if arr, ok := v.(map[string]any)["f"].([]any); ok {
			// An array sorts by its smallest element; wrap to compare arrays whole.
			v = map[string]any{"f": []any{arr}}
		}
		return SortKey(v, "f", false)
	}
	for i := 1; i < len(ascending); i++ {
		require.Negative(t, bytes.Compare(key(ascending[i-1]), key(ascending[i])), "%s < %s", ascending[i-1], ascending[i])
	}
	same := [][2]string{{`1`, `1.0`}, {`100`, `1e2`}, {`0`, `-0.0`}, {`{"a":1,"b":2}`, `{"b":2,"a":1}`}, {`"\u00e9"`, `"é"`}}
	for _, p := range same {
		require.Equal(t, key(p[0]), key(p[1]), "%s = %s", p[0], p[1])
	}
	// Missing sorts as null; arrays by their smallest element ascending,
	// largest descending.
	doc := func(s string) any { v, _ := DecodeJSON([]byte(s)); return v }
	require.Equal(t, SortKey(doc(`{}`), "f", false), SortKey(doc(`{"f":null}`), "f", false))
	require.Equal(t, SortKey(doc(`{"f":[3,1,2]}`), "f", false), SortKey(doc(`{"f":1}`), "f", false))
	require.Equal(t, SortKey(doc(`{"f":[3,1,2]}`), "f", true), SortKey(doc(`{"f":3}`), "f", true))
	require.Equal(t, SortKey(doc(`{"a":[{"b":5},{"b":2}]}`), "a.b", false), SortKey(doc(`{"f":2}`), "f", false))
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
		{"order asc ties by key", Query{OrderBy: &Order{Path: "age"}}, []string{"b", "c", "d", "e", "a", "f", "g"}},
		{"order desc keeps ties by key", Query{OrderBy: &Order{Path: "age", Desc: true}}, []string{"g", "f", "a", "d", "e", "b", "c"}},
		{"several sort fields", Query{Sort: []Order{{Path: "city", Desc: true}, {Path: "age"}}}, []string{"c", "d", "e", "b", "a", "f", "g"}},
		{"order by then sort", Query{OrderBy: &Order{Path: "city"}, Sort: []Order{{Path: "age", Desc: true}}}, []string{"g", "f", "a", "b", "d", "e", "c"}},
		{"skip take", Query{OrderBy: &Order{Path: "age"}, Skip: 2, Take: 3}, []string{"d", "e", "a"}},
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
	f, _ := ParseFilter([]byte(`{"age":{"$gt":30},"tags":"go"}`))
	ok, _ := Match(f, []byte(`{"age":41,"tags":["db","go"]}`))
	fmt.Println(ok)
	// Output: true
}

func nanValue() float64 { z := 0.0; return z / z }

func jsonNumber(s string) any { return json.Number(s) }
