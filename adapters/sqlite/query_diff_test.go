package sqlite_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// The differential test: random documents and random queries must give the
// same results from the SQL translation as from domain.ApplyQuery, the
// reference evaluator.

var (
	diffStrings = []string{"", "a", "ab", "b", "ba", "abc", "A", "é", "z", "a b", "ü1"}
	diffNumbers = []float64{-3, -1.5, 0, 1, 1.5, 2, 3, 10, 100.25}
	diffFields  = []string{"a", "b", "c", "n"}
	diffPaths   = []string{"a", "b", "c", "n", "n.x", "n.y", "missing", "a.x"}
)

func randScalar(rng *rand.Rand) any {
	switch rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return diffNumbers[rng.IntN(len(diffNumbers))]
	}
	return diffStrings[rng.IntN(len(diffStrings))]
}

func randValue(rng *rand.Rand, depth int) any {
	switch k := rng.IntN(10); {
	case k < 6 || depth > 1:
		return randScalar(rng)
	case k < 8:
		arr := make([]any, rng.IntN(4))
		for i := range arr {
			arr[i] = randScalar(rng)
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

// encodeDoc writes compact JSON with sorted keys and no HTML escaping, the
// canonical form the reference orders arrays and objects by.
func encodeDoc(t *testing.T, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

func randFilter(rng *rand.Rand, depth int) domain.Filter {
	k := rng.IntN(12)
	if depth < 2 && k >= 9 {
		n := rng.IntN(4)
		fs := make([]domain.Filter, n)
		for i := range fs {
			fs[i] = randFilter(rng, depth+1)
		}
		if k == 9 {
			return domain.Or{Filters: fs}
		}
		return domain.And{Filters: fs}
	}
	path := diffPaths[rng.IntN(len(diffPaths))]
	if k == 8 {
		vals := make([]any, rng.IntN(4))
		for i := range vals {
			vals[i] = randScalar(rng)
		}
		return domain.In{Path: path, Values: vals}
	}
	return domain.Cmp{Op: domain.CmpOp(rng.IntN(int(domain.OpNotContains) + 1)), Path: path, Value: randScalar(rng)}
}

func randQuery(rng *rand.Rand) domain.Query {
	q := domain.Query{}
	if rng.IntN(5) > 0 {
		q.Filter = randFilter(rng, 0)
	}
	if rng.IntN(2) == 0 {
		q.OrderBy = &domain.Order{Path: diffPaths[rng.IntN(len(diffPaths))], Desc: rng.IntN(2) == 0}
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
	for _, indexed := range []bool{false, true} {
		t.Run(fmt.Sprintf("indexed=%v", indexed), func(t *testing.T) {
			s := openTemp(t)
			ctx := t.Context()
			rng := rand.New(rand.NewPCG(42, uint64(len(fmt.Sprint(indexed)))))
			if indexed {
				for _, p := range []string{"a", "b", "n.x"} {
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
				e := domain.Entry{Collection: "docs", Key: fmt.Sprintf("k%03d", rng.IntN(400)), Op: domain.OpPut,
					Data: encodeDoc(t, obj), Stamp: domain.Timestamp{Wall: 1_700_000_000_000 + int64(i), Node: "R"}}
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
	}
	return "all"
}
