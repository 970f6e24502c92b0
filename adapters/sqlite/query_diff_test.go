package sqlite_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/domain"
)

// The differential test: random documents and random queries must give the
// same results from the SQL translation as from domain.ApplyQuery, the
// reference evaluator.

var (
	diffStrings = []string{"", "a", "ab", "b", "ba", "abc", "A", "é", "z", "a b", "ü1", "[x", "a\x00b", "\\"}
	// diffNumbers: each row is one value in several spellings.
	diffNumbers = [][]string{
		{"-3"}, {"-1.5", "-15e-1"}, {"0", "-0", "0.0"}, {"1", "1.0", "1e0", "10E-1"}, {"1.5"}, {"2", "2.0", "0.2e1"},
		{"3"}, {"10"}, {"100.25"}, {"9007199254740992", "9007199254740992.0"}, {"9007199254740993"},
		{"18446744073709551617"}, {"1e300"},
	}
	diffFields = []string{"a", "b", "c", "n", "arr", "t"}
	diffPaths  = []string{"a", "b", "c", "n", "n.x", "n.y", "missing", "a.x", "arr", "arr.x", "arr.0", "arr.1.y", "t", "t.0"}
)

// A diffNum is a number with the spelling it is written with.
type diffNum string

func randNumber(rng *rand.Rand) diffNum {
	row := diffNumbers[rng.IntN(len(diffNumbers))]
	return diffNum(row[rng.IntN(len(row))])
}

func randScalar(rng *rand.Rand) any {
	switch rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return randNumber(rng)
	}
	return diffStrings[rng.IntN(len(diffStrings))]
}

func randValue(rng *rand.Rand, depth int) any {
	switch k := rng.IntN(10); {
	case k < 5 || depth > 2:
		return randScalar(rng)
	case k < 8:
		arr := make([]any, rng.IntN(4))
		for i := range arr {
			arr[i] = randValue(rng, depth+1)
		}
		return arr
	default:
		obj := map[string]any{}
		for _, f := range []string{"x", "y"} {
			if rng.IntN(3) > 0 {
				obj[f] = randValue(rng, depth+1)
			}
		}
		return obj
	}
}

// writeJSON writes v with keys in random order, numbers in their chosen
// spelling and strings with random escapes: the stores must not care.
func writeJSON(rng *rand.Rand, b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		fmt.Fprint(b, x)
	case diffNum:
		b.WriteString(string(x))
	case string:
		b.WriteByte('"')
		for _, r := range x {
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r < 0x20 || rng.IntN(4) == 0:
				fmt.Fprintf(b, "\\u%04x", r)
			case r == '/' && rng.IntN(2) == 0:
				b.WriteString("\\/")
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
	case []any:
		b.WriteByte('[')
		for i, el := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(rng, b, el)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		b.WriteString("{ ")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(" , ")
			}
			writeJSON(rng, b, k)
			b.WriteByte(':')
			writeJSON(rng, b, x[k])
		}
		b.WriteByte('}')
	}
}

// filterValue turns a generated value into a filter value: numbers as
// json.Number in their spelling, or as Go numbers when exact.
func filterValue(rng *rand.Rand, v any) any {
	switch x := v.(type) {
	case diffNum:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil && rng.IntN(2) == 0 {
			return i
		}
		return json.Number(x)
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = filterValue(rng, el)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, el := range x {
			out[k] = filterValue(rng, el)
		}
		return out
	}
	return v
}

func randFilterValue(rng *rand.Rand) any {
	if rng.IntN(8) == 0 {
		return filterValue(rng, randValue(rng, 1))
	}
	return filterValue(rng, randScalar(rng))
}

func randValues(rng *rand.Rand) []any {
	n := rng.IntN(4)
	if rng.IntN(6) == 0 {
		n = 9 + rng.IntN(20) // past the evaluator's small-list cut-off: hashed
	}
	vals := make([]any, n)
	for i := range vals {
		vals[i] = randFilterValue(rng)
	}
	return vals
}

var (
	diffPatterns = []string{"^a", "b$", "^$", "a.b", "\\x00", "^\\[", "é"}
	diffTypes    = []string{"double", "int", "long", "number", "string", "object", "array", "bool", "null"}
)

func randFilter(rng *rand.Rand, depth int) domain.Filter {
	k := rng.IntN(22)
	if depth < 2 && k >= 18 {
		fs := make([]domain.Filter, rng.IntN(4))
		for i := range fs {
			fs[i] = randFilter(rng, depth+1)
		}
		switch k {
		case 18:
			return domain.Or{Filters: fs}
		case 19:
			return domain.Nor{Filters: fs}
		case 20:
			return domain.Not{Filter: randFilter(rng, depth+1)}
		}
		return domain.And{Filters: fs}
	}
	path := diffPaths[rng.IntN(len(diffPaths))]
	switch k {
	case 8, 9:
		return domain.In{Path: path, Values: randValues(rng)}
	case 10:
		return domain.NotIn{Path: path, Values: randValues(rng)}
	case 11:
		return domain.Exists{Path: path, Exists: rng.IntN(2) == 0}
	case 12:
		return domain.Regex{Path: path, Pattern: diffPatterns[rng.IntN(len(diffPatterns))], Options: []string{"", "i", "ms"}[rng.IntN(3)]}
	case 13:
		return domain.All{Path: path, Values: randValues(rng)}
	case 14:
		return domain.Size{Path: path, Len: rng.IntN(4)}
	case 15:
		if depth < 2 && rng.IntN(2) == 0 {
			return domain.ElemMatch{Path: path, Filter: randFilter(rng, depth+1)}
		}
		return domain.ElemMatch{Path: path, Filter: domain.Cmp{Op: domain.CmpOp(rng.IntN(int(domain.OpNotContains) + 1)), Path: "", Value: randFilterValue(rng)}}
	case 16:
		return domain.Type{Path: path, Types: []string{diffTypes[rng.IntN(len(diffTypes))]}}
	}
	return domain.Cmp{Op: domain.CmpOp(rng.IntN(int(domain.OpNotContains) + 1)), Path: path, Value: randFilterValue(rng)}
}

func randQuery(rng *rand.Rand) domain.Query {
	q := domain.Query{}
	if rng.IntN(5) > 0 {
		q.Filter = randFilter(rng, 0)
	}
	if rng.IntN(2) == 0 {
		q.OrderBy = &domain.Order{Path: diffPaths[rng.IntN(len(diffPaths))], Desc: rng.IntN(2) == 0}
	}
	for range rng.IntN(3) {
		q.Sort = append(q.Sort, domain.Order{Path: diffPaths[rng.IntN(len(diffPaths))], Desc: rng.IntN(2) == 0})
	}
	if rng.IntN(3) == 0 {
		q.Skip = rng.IntN(20)
	}
	if rng.IntN(3) == 0 {
		q.Take = rng.IntN(20)
	}
	return q
}

func TestFindMatchesReferenceEvaluator(t *testing.T) {
	t.Parallel() // independent stores; the slowest tests overlap on a multi-core machine
	for _, c := range []struct{ indexed, split bool }{{false, false}, {true, false}, {false, true}} {
		indexed := c.indexed
		t.Run(fmt.Sprintf("indexed=%v/split=%v", indexed, c.split), func(t *testing.T) {
			s := openTemp(t)
			if c.split {
				// Whole scans in three parts, however small the collection.
				sqlite.SplitScans(s, 3)
			}
			ctx := t.Context()
			rng := rand.New(rand.NewPCG(42, uint64(len(fmt.Sprint(indexed)))))
			if indexed {
				for _, p := range []string{"a", "b", "n.x", "arr.x", "t.0"} {
					require.NoError(t, s.EnsureIndex(ctx, "docs", p))
				}
			}
			// ~250 live documents plus tombstones and a second collection that
			// must never leak into results.
			var entries []domain.Entry
			for i := range 320 {
				obj := map[string]any{}
				for _, f := range diffFields {
					if rng.IntN(4) > 0 {
						obj[f] = randValue(rng, 0)
					}
				}
				var data bytes.Buffer
				writeJSON(rng, &data, obj)
				e := domain.Entry{Collection: "docs", Key: fmt.Sprintf("k%03d", rng.IntN(400)), Op: domain.OpPut,
					Data: data.Bytes(), Stamp: domain.Timestamp{Wall: 1_700_000_000_000 + int64(i), Node: "R"}}
				switch {
				case i%17 == 0:
					e.Op, e.Data = domain.OpDelete, nil
				case i%13 == 0:
					e.Collection = "other"
				}
				entries = append(entries, e)
			}
			_, err := s.ApplyRemote(ctx, domain.LastWriteWins{}, entries)
			require.NoError(t, err)
			snap, err := s.Snapshot(ctx)
			require.NoError(t, err)
			var docs []domain.Document
			for _, d := range snap.Documents {
				if d.Collection == "docs" {
					docs = append(docs, d)
				}
			}
			require.Greater(t, len(docs), 200)

			const cases = diffQueryCases
			nonEmpty := 0
			for i := range cases {
				q := randQuery(rng)
				want, err := domain.ApplyQuery(q, docs)
				require.NoError(t, err)
				got, err := s.Find(ctx, "docs", q)
				require.NoError(t, err, "case %d: %#v", i, q)
				require.Equal(t, keysOf(want), keysOf(got), "case %d: query %s", i, describe(q))
				if len(want) > 0 {
					nonEmpty++
				}
				all := want
				if q.Skip != 0 || q.Take > 0 {
					all, err = domain.ApplyQuery(domain.Query{Filter: q.Filter}, docs)
					require.NoError(t, err)
				}
				n, err := s.Count(ctx, "docs", q.Filter)
				require.NoError(t, err)
				require.Equal(t, len(all), n, "case %d: count %s", i, describe(q))
			}
			// The generator must produce selective queries, not only empty ones.
			require.Greater(t, nonEmpty, cases/3)

			// Every plain equality and $in (decided in SQL where it can be)
			// on every path, against every value the documents hold.
			var plain []any
			for _, v := range diffStrings {
				plain = append(plain, v)
			}
			for _, row := range diffNumbers {
				plain = append(plain, json.Number(row[0]))
				if i, err := strconv.ParseInt(row[0], 10, 64); err == nil {
					plain = append(plain, i)
				}
			}
			for _, path := range diffPaths {
				for i, v := range plain {
					for _, f := range []domain.Filter{
						domain.Cmp{Op: domain.OpEq, Path: path, Value: v},
						domain.In{Path: path, Values: []any{v, plain[(i+1)%len(plain)]}},
					} {
						want, err := domain.ApplyQuery(domain.Query{Filter: f}, docs)
						require.NoError(t, err)
						got, err := s.Find(ctx, "docs", domain.Query{Filter: f})
						require.NoError(t, err)
						require.Equal(t, keysOf(want), keysOf(got), "filter %s", describeFilter(f))
					}
				}
			}
		})
	}
}

func keysOf(docs []domain.Document) []string {
	out := []string{}
	for _, d := range docs {
		out = append(out, d.Key)
	}
	return out
}

func describe(q domain.Query) string {
	s := fmt.Sprintf("filter=%s skip=%d take=%d", describeFilter(q.Filter), q.Skip, q.Take)
	if q.OrderBy != nil {
		s += fmt.Sprintf(" order=%s desc=%v", q.OrderBy.Path, q.OrderBy.Desc)
	}
	if len(q.Sort) > 0 {
		s += fmt.Sprintf(" sort=%v", q.Sort)
	}
	return s
}

func describeFilter(f domain.Filter) string {
	switch x := f.(type) {
	case domain.Cmp:
		return fmt.Sprintf("(%s op%d %#v)", x.Path, x.Op, x.Value)
	case domain.In:
		return fmt.Sprintf("(%s in %#v)", x.Path, x.Values)
	case domain.And:
		s := "and["
		for _, g := range x.Filters {
			s += describeFilter(g)
		}
		return s + "]"
	case domain.Or:
		s := "or["
		for _, g := range x.Filters {
			s += describeFilter(g)
		}
		return s + "]"
	case nil:
		return "all"
	}
	return fmt.Sprintf("%#v", f)
}
