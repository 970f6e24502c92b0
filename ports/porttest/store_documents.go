package porttest

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var people = []struct{ key, data string }{
	{"u1", `{"name":"ann","age":31,"city":"Oslo","tags":["a","b"],"address":{"zip":"0150"}}`},
	{"u2", `{"name":"bob","age":25,"city":"Bergen","tags":["b"]}`},
	{"u3", `{"name":"cid","age":40,"city":"Oslo","active":true}`},
	{"u4", `{"name":"dag","age":25,"city":"Tromsø","active":false,"address":{"zip":"9000"}}`},
	{"u5", `{"name":"eve","city":null}`},
	{"u6", `{"name":"fay","age":50,"city":"Oslo"}`}, // deleted below
}

// seedPeople fills "users" with the people (u6 then deleted) and puts a
// document in "other". It returns what the store should hold for "users",
// the tombstone included: the input of the reference evaluator.
func seedPeople(t *testing.T, s ports.Store) []domain.Document {
	t.Helper()
	var writes []ports.Write
	for i, p := range people {
		writes = append(writes, putW("users", p.key, p.data, ts(int64(i), 0, "A")))
	}
	writes = append(writes, putW("other", "u1", `{"name":"zed","age":99,"city":"Oslo"}`, ts(10, 0, "A")))
	mustCommit(t, s, lww, writes...)
	mustCommit(t, s, lww, delW("users", "u6", ts(11, 0, "A")))
	var docs []domain.Document
	for i, p := range people[:5] {
		docs = append(docs, domain.Document{Collection: "users", Key: p.key, Data: []byte(p.data), Stamp: ts(int64(i), 0, "A")})
	}
	docs = append(docs, domain.Document{Collection: "users", Key: "u6", Stamp: ts(11, 0, "A"), Deleted: true})
	return docs
}

var findQueries = []struct {
	name string
	q    domain.Query
	want []string // keys in order; checked against domain.ApplyQuery too
}{
	{"All", domain.Query{}, []string{"u1", "u2", "u3", "u4", "u5"}},
	{"EqString", domain.Query{Filter: domain.Cmp{Op: domain.OpEq, Path: "city", Value: "Oslo"}}, []string{"u1", "u3"}},
	{"EqNullMatchesMissing", domain.Query{Filter: domain.Cmp{Op: domain.OpEq, Path: "city", Value: nil}}, []string{"u5"}},
	{"NeMatchesMissing", domain.Query{Filter: domain.Cmp{Op: domain.OpNe, Path: "age", Value: 25}}, []string{"u1", "u3", "u5"}},
	{"GtNumber", domain.Query{Filter: domain.Cmp{Op: domain.OpGt, Path: "age", Value: 25}}, []string{"u1", "u3"}},
	{"LteNumber", domain.Query{Filter: domain.Cmp{Op: domain.OpLte, Path: "age", Value: 31.0}}, []string{"u1", "u2", "u4"}},
	{"NestedPath", domain.Query{Filter: domain.Cmp{Op: domain.OpEq, Path: "address.zip", Value: "9000"}}, []string{"u4"}},
	{"Bool", domain.Query{Filter: domain.Cmp{Op: domain.OpEq, Path: "active", Value: false}}, []string{"u4"}},
	{"ContainsSubstring", domain.Query{Filter: domain.Cmp{Op: domain.OpContains, Path: "name", Value: "a"}}, []string{"u1", "u4"}},
	{"ContainsArray", domain.Query{Filter: domain.Cmp{Op: domain.OpContains, Path: "tags", Value: "b"}}, []string{"u1", "u2"}},
	{"In", domain.Query{Filter: domain.In{Path: "name", Values: []any{"bob", "eve", "nobody"}}}, []string{"u2", "u5"}},
	{"AndOr", domain.Query{Filter: domain.And{Filters: []domain.Filter{
		domain.Cmp{Op: domain.OpGte, Path: "age", Value: 25},
		domain.Or{Filters: []domain.Filter{
			domain.Cmp{Op: domain.OpEq, Path: "city", Value: "Bergen"},
			domain.Cmp{Op: domain.OpEq, Path: "active", Value: true},
		}},
	}}}, []string{"u2", "u3"}},
	{"OrderByNumberDescTiesByKey", domain.Query{OrderBy: &domain.Order{Path: "age", Desc: true}}, []string{"u3", "u1", "u2", "u4", "u5"}},
	{"OrderByStringAsc", domain.Query{OrderBy: &domain.Order{Path: "city"}}, []string{"u5", "u2", "u1", "u3", "u4"}},
	{"SkipWithoutTake", domain.Query{Skip: 3}, []string{"u4", "u5"}},
	{"TakeWithoutSkip", domain.Query{Take: 2}, []string{"u1", "u2"}},
	{"SkipAndTakeOrdered", domain.Query{OrderBy: &domain.Order{Path: "age"}, Skip: 1, Take: 2}, []string{"u2", "u4"}},
	{"SkipPastEnd", domain.Query{Skip: 10}, []string{}},
	{"FilterOrderPage", domain.Query{Filter: domain.Cmp{Op: domain.OpNe, Path: "city", Value: "Bergen"}, OrderBy: &domain.Order{Path: "name", Desc: true}, Skip: 1, Take: 2}, []string{"u4", "u3"}},
}

var documentCases = []storeCase{
	{"GetNotFound", func(t *testing.T, open OpenStore) {
		s := open(t)
		requireNotFound(t, s, "nothing", "k")
		seedPeople(t, s)
		requireNotFound(t, s, "users", "nobody")
		requireNotFound(t, s, "users", "u6") // deleted
		requireNotFound(t, s, "other", "u2") // key of another collection
		requireDoc(t, s, "users", "u1", people[0].data, ts(0, 0, "A"))
	}},
	{"Find", func(t *testing.T, open OpenStore) {
		s := open(t)
		ref := seedPeople(t, s)
		for _, fq := range findQueries {
			t.Run(fq.name, func(t *testing.T) {
				want, err := domain.ApplyQuery(fq.q, ref)
				require.NoError(t, err)
				require.Equal(t, fq.want, docKeys(want), "the case disagrees with the reference evaluator")
				got, err := s.Find(t.Context(), "users", fq.q)
				require.NoError(t, err)
				require.Equal(t, fq.want, docKeys(got))
				for i := range got {
					require.True(t, sameDoc(want[i], got[i]), "doc %+v, want %+v", got[i], want[i])
				}
			})
		}
	}},
	{"RandomQueriesMatchReference", randomQueriesMatchReference},
	{"MongoDBExamples", mongoExampleCase},
	{"FindOverNonObjectDocuments", func(t *testing.T, open OpenStore) {
		// Values other than objects (from foreign nodes) have no fields:
		// every path is missing in them, exactly as the reference says.
		s := open(t)
		b := newAuthor("B")
		raw := []string{`[1,2]`, `"text"`, `42`, `null`, `{"a":1}`, `{"a":null}`, `{"a":[1,"x"]}`, `true`}
		var ref []domain.Document
		var in []domain.Entry
		for i, data := range raw {
			e := b.put("c", fmt.Sprintf("k%d", i), data, int64(i), 0)
			in = append(in, e)
			ref = append(ref, domain.DocumentFromEntry(&e))
		}
		mustApply(t, s, lww, in...)
		for _, q := range []domain.Query{
			{},
			{Filter: domain.Cmp{Op: domain.OpEq, Path: "a", Value: nil}},
			{Filter: domain.Cmp{Op: domain.OpNe, Path: "a", Value: 1}},
			{Filter: domain.Cmp{Op: domain.OpGte, Path: "a", Value: 0}},
			{Filter: domain.Cmp{Op: domain.OpContains, Path: "a", Value: "x"}},
			{Filter: domain.Cmp{Op: domain.OpNotContains, Path: "a", Value: 1}},
			{OrderBy: &domain.Order{Path: "a"}},
			{OrderBy: &domain.Order{Path: "a", Desc: true}, Skip: 1, Take: 3},
		} {
			want, err := domain.ApplyQuery(q, ref)
			require.NoError(t, err)
			got, err := s.Find(t.Context(), "c", q)
			require.NoError(t, err)
			require.Equal(t, docKeys(want), docKeys(got), "filter %#v order %#v", q.Filter, q.OrderBy)
		}
	}},
	{"FindEmptyCollection", func(t *testing.T, open OpenStore) {
		s := open(t)
		got, err := s.Find(t.Context(), "nothing", domain.Query{})
		require.NoError(t, err)
		require.Empty(t, got)
	}},
	{"FindInvalidQuery", func(t *testing.T, open OpenStore) {
		s := open(t)
		seedPeople(t, s)
		for name, q := range map[string]domain.Query{
			"EmptySegment": {Filter: domain.Cmp{Op: domain.OpEq, Path: "a..b", Value: 1}},
			"InvalidUTF8":  {Filter: domain.Cmp{Op: domain.OpEq, Path: "a\xffb", Value: 1}},
			"DeepFilter":   {Filter: deepFilter(domain.MaxFilterDepth + 1)},
			"NaN":          {Filter: domain.Cmp{Op: domain.OpEq, Path: "a", Value: math.NaN()}},
			"OrderPath":    {OrderBy: &domain.Order{Path: ""}},
			"NegativeSkip": {Skip: -1},
		} {
			_, err := s.Find(t.Context(), "users", q)
			requireCode(t, err, domain.CodeInvalidArgument)
			_ = name
		}
	}},
	{"Count", func(t *testing.T, open OpenStore) {
		s := open(t)
		ref := seedPeople(t, s)
		n, err := s.Count(t.Context(), "users", nil)
		require.NoError(t, err)
		require.Equal(t, 5, n, "tombstones are not counted")
		for _, fq := range findQueries {
			if fq.q.Skip != 0 || fq.q.Take != 0 {
				continue
			}
			want, err := domain.ApplyQuery(domain.Query{Filter: fq.q.Filter}, ref)
			require.NoError(t, err)
			n, err := s.Count(t.Context(), "users", fq.q.Filter)
			require.NoError(t, err, fq.name)
			require.Equal(t, len(want), n, fq.name)
		}
		n, err = s.Count(t.Context(), "nothing", nil)
		require.NoError(t, err)
		require.Zero(t, n)
		_, err = s.Count(t.Context(), "users", domain.Cmp{Op: domain.OpEq, Path: "", Value: 1})
		requireCode(t, err, domain.CodeInvalidArgument)
	}},
	{"Collections", func(t *testing.T, open OpenStore) {
		s := open(t)
		colls, err := s.Collections(t.Context())
		require.NoError(t, err)
		require.Empty(t, colls)
		seedPeople(t, s)
		b := newAuthor("B")
		// "gone" holds only a tombstone; "Zeta" sorts before lower case.
		mustApply(t, s, lww, b.put("gone", "k", `{}`, 1, 0), b.del("gone", "k", 2, 0),
			b.del("never", "k", 3, 0), b.put("Zeta", "k", `{}`, 4, 0))
		colls, err = s.Collections(t.Context())
		require.NoError(t, err)
		require.Equal(t, []string{"Zeta", "other", "users"}, colls)
	}},
	{"EnsureIndex", func(t *testing.T, open OpenStore) {
		s := open(t)
		ref := seedPeople(t, s)
		// Idempotent, and allowed before the collection has documents.
		require.NoError(t, s.EnsureIndex(t.Context(), "users", "age"))
		require.NoError(t, s.EnsureIndex(t.Context(), "users", "age"))
		require.NoError(t, s.EnsureIndex(t.Context(), "users", "address.zip"))
		require.NoError(t, s.EnsureIndex(t.Context(), "empty", "age"))
		// Results do not change with an index.
		for _, fq := range findQueries {
			want, err := domain.ApplyQuery(fq.q, ref)
			require.NoError(t, err)
			got, err := s.Find(t.Context(), "users", fq.q)
			require.NoError(t, err)
			require.Equal(t, docKeys(want), docKeys(got), fq.name)
		}
		// Writes after the index keep working.
		mustCommit(t, s, lww, putW("users", "u7", `{"age":"not a number"}`, ts(20, 0, "A")))
		got, err := s.Find(t.Context(), "users", domain.Query{Filter: domain.Cmp{Op: domain.OpGt, Path: "age", Value: 39}})
		require.NoError(t, err)
		require.Equal(t, []string{"u3"}, docKeys(got))
	}},
	{"EnsureIndexInvalidPath", func(t *testing.T, open OpenStore) {
		// Paths are validated by domain.ValidateIndexPath: the
		// SQLite adapter builds index expressions from them.
		s := open(t)
		for _, p := range []string{"", "a..b", `a"b`, `x");DROP TABLE documents;--`} {
			err := s.EnsureIndex(t.Context(), "users", p)
			requireCode(t, err, domain.CodeInvalidArgument)
		}
	}},
}

// deepFilter nests depth two-child Ands.
func deepFilter(depth int) domain.Filter {
	f := domain.Filter(domain.Cmp{Op: domain.OpEq, Path: "a", Value: 1})
	for range depth {
		f = domain.And{Filters: []domain.Filter{f, domain.Cmp{Op: domain.OpEq, Path: "b", Value: 1}}}
	}
	return f
}
