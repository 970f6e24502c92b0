package porttest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// MongoDB's documented query examples (the manual's "Query an Array",
// "Query an Array of Embedded Documents", "Query for Null or Missing
// Fields" and operator pages), with the results the manual gives: filters
// read the way MongoDB users expect, on every store.

var mongoCollections = map[string][]string{
	"inventory": {
		`{"item":"journal","qty":25,"tags":["blank","red"],"dim_cm":[14,21]}`,
		`{"item":"notebook","qty":50,"tags":["red","blank"],"dim_cm":[14,21]}`,
		`{"item":"paper","qty":100,"tags":["red","blank","plain"],"dim_cm":[14,21]}`,
		`{"item":"planner","qty":75,"tags":["blank","red"],"dim_cm":[22.85,30]}`,
		`{"item":"postcard","qty":45,"tags":["blue"],"dim_cm":[10,15.25]}`,
	},
	"instock": {
		`{"item":"journal","instock":[{"warehouse":"A","qty":5},{"warehouse":"C","qty":15}]}`,
		`{"item":"notebook","instock":[{"warehouse":"C","qty":5}]}`,
		`{"item":"paper","instock":[{"warehouse":"A","qty":60},{"warehouse":"B","qty":15}]}`,
		`{"item":"planner","instock":[{"warehouse":"A","qty":40},{"warehouse":"B","qty":5}]}`,
		`{"item":"postcard","instock":[{"warehouse":"B","qty":15},{"warehouse":"C","qty":35}]}`,
	},
	"nulls":  {`{"item":"with null","v":null}`, `{"item":"without"}`},
	"prices": {`{"item":"cheap","price":1.99}`, `{"item":"dear","price":2.99}`, `{"item":"unpriced"}`},
	"products": {
		`{"item":"100","sku":"abc123","description":"Single line description."}`,
		`{"item":"101","sku":"abc789","description":"First line\nSecond line"}`,
		`{"item":"102","sku":"xyz456","description":"Many spaces before     line"}`,
		`{"item":"103","sku":"xyz789","description":"Multiple\nline description"}`,
	},
	"zips":  {`{"item":"text","zipCode":"43103"}`, `{"item":"int","zipCode":43103}`, `{"item":"double","zipCode":43103.5}`, `{"item":"mixed","zipCode":["43103",1]}`},
	"stock": {`{"item":"five","qty":5}`, `{"item":"fifteen","qty":15}`, `{"item":"twenty","qty":20}`, `{"item":"none"}`},
}

var mongoExamples = []struct {
	coll, filter string
	want         []string // items, in key order
}{
	{"inventory", `{"tags":["red","blank"]}`, []string{"notebook"}},
	{"inventory", `{"tags":{"$all":["red","blank"]}}`, []string{"journal", "notebook", "paper", "planner"}},
	{"inventory", `{"tags":"red"}`, []string{"journal", "notebook", "paper", "planner"}},
	{"inventory", `{"dim_cm":{"$gt":25}}`, []string{"planner"}},
	{"inventory", `{"dim_cm":{"$gt":15,"$lt":20}}`, []string{"journal", "notebook", "paper", "postcard"}},
	{"inventory", `{"dim_cm":{"$elemMatch":{"$gt":22,"$lt":30}}}`, []string{"planner"}},
	{"inventory", `{"dim_cm.1":{"$gt":25}}`, []string{"planner"}},
	{"inventory", `{"tags":{"$size":3}}`, []string{"paper"}},
	{"inventory", `{"qty":{"$nin":[25,50]}}`, []string{"paper", "planner", "postcard"}},
	{"inventory", `{"tags":{"$ne":"red"}}`, []string{"postcard"}},
	{"instock", `{"instock":{"warehouse":"A","qty":5}}`, []string{"journal"}},
	{"instock", `{"instock.qty":{"$lte":20}}`, []string{"journal", "notebook", "paper", "planner", "postcard"}},
	{"instock", `{"instock.0.qty":{"$lte":20}}`, []string{"journal", "notebook", "postcard"}},
	{"instock", `{"instock":{"$elemMatch":{"qty":5,"warehouse":"A"}}}`, []string{"journal"}},
	{"instock", `{"instock":{"$elemMatch":{"qty":{"$gt":10,"$lte":20}}}}`, []string{"journal", "paper", "postcard"}},
	{"instock", `{"instock.qty":{"$gt":10,"$lte":20}}`, []string{"journal", "paper", "planner", "postcard"}},
	{"instock", `{"instock.qty":5,"instock.warehouse":"A"}`, []string{"journal", "planner"}},
	{"nulls", `{"v":null}`, []string{"with null", "without"}},
	{"nulls", `{"v":{"$type":10}}`, []string{"with null"}},
	{"nulls", `{"v":{"$exists":false}}`, []string{"without"}},
	{"prices", `{"price":{"$not":{"$gt":1.99}}}`, []string{"cheap", "unpriced"}},
	{"products", `{"sku":{"$regex":"789$"}}`, []string{"101", "103"}},
	{"products", `{"sku":{"$regex":"^ABC","$options":"i"}}`, []string{"100", "101"}},
	{"products", `{"description":{"$regex":"^S","$options":"m"}}`, []string{"100", "101"}},
	{"products", `{"description":{"$regex":"^S"}}`, []string{"100"}},
	{"products", `{"description":{"$regex":"m.*line","$options":"si"}}`, []string{"102", "103"}},
	{"zips", `{"zipCode":{"$type":"string"}}`, []string{"text", "mixed"}},
	{"zips", `{"zipCode":{"$type":"number"}}`, []string{"int", "double", "mixed"}},
	{"zips", `{"zipCode":{"$type":"array"}}`, []string{"mixed"}},
	{"stock", `{"qty":{"$exists":true,"$nin":[5,15]}}`, []string{"twenty"}},
}

func mongoExampleCase(t *testing.T, open OpenStore) {
	s := open(t)
	b := newAuthor("B")
	var in []domain.Entry
	for coll, docs := range mongoCollections {
		for i, d := range docs {
			in = append(in, b.put(coll, fmt.Sprintf("k%d", i), d, int64(len(in)), 0))
		}
	}
	mustApply(t, s, lww, in...)
	items := func(docs []domain.Document) []string {
		out := []string{}
		for _, d := range docs {
			v, err := domain.DecodeJSON(d.Data)
			require.NoError(t, err)
			out = append(out, v.(map[string]any)["item"].(string))
		}
		return out
	}
	for _, ex := range mongoExamples {
		f, err := domain.ParseFilter([]byte(ex.filter))
		require.NoError(t, err, ex.filter)
		got, err := s.Find(t.Context(), ex.coll, domain.Query{Filter: f})
		require.NoError(t, err, ex.filter)
		require.Equal(t, ex.want, items(got), "%s on %s", ex.filter, ex.coll)
	}
	// MongoDB's sort order across kinds: missing and null, numbers, strings,
	// objects, arrays (by their smallest element ascending, largest
	// descending: [1,"x"] ties with "x"), booleans.
	mustApply(t, s, lww,
		b.put("mixed", "a", `{"item":"true","v":true}`, 100, 0),
		b.put("mixed", "b", `{"item":"string","v":"x"}`, 101, 0),
		b.put("mixed", "c", `{"item":"object","v":{"a":1}}`, 102, 0),
		b.put("mixed", "d", `{"item":"number","v":2}`, 103, 0),
		b.put("mixed", "e", `{"item":"missing"}`, 104, 0),
		b.put("mixed", "f", `{"item":"array","v":[[0]]}`, 105, 0),
		b.put("mixed", "g", `{"item":"big","v":9007199254740993}`, 106, 0),
		b.put("mixed", "h", `{"item":"array of 1 and x","v":[1,"x"]}`, 107, 0),
		b.put("mixed", "i", `{"item":"empty array","v":[]}`, 108, 0),
	)
	got, err := s.Find(t.Context(), "mixed", domain.Query{Sort: []domain.Order{{Path: "v"}}})
	require.NoError(t, err)
	require.Equal(t, []string{"empty array", "missing", "array of 1 and x", "number", "big", "string", "object", "array", "true"}, items(got))
	got, err = s.Find(t.Context(), "mixed", domain.Query{Sort: []domain.Order{{Path: "v", Desc: true}}})
	require.NoError(t, err)
	require.Equal(t, []string{"true", "array", "object", "string", "array of 1 and x", "big", "number", "missing", "empty array"}, items(got))
}
