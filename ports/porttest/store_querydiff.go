package porttest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// The random differential case: documents and queries drawn from small
// pools, so that ties, missing fields, nulls, mixed kinds and byte order of
// strings come up often. Every store must answer what domain.ApplyQuery
// answers.

var (
	diffPaths   = []string{"a", "b", "c", "n.x", "t", "missing", "n"}
	diffScalars = []any{nil, true, false, 0, 1, 2.5, 3, -1, "", "x", "ab", "abc", "B", "ä", "1"}
)

func diffScalar(rng *rand.Rand) any { return diffScalars[rng.IntN(len(diffScalars))] }

func diffDoc(rng *rand.Rand) []byte {
	switch rng.IntN(20) {
	case 0:
		return []byte(`[1,"x"]`) // foreign nodes may store non-objects
	case 1:
		return []byte(`"x"`)
	}
	m := map[string]any{}
	for _, f := range []string{"a", "b", "c"} {
		if rng.IntN(4) > 0 {
			m[f] = diffScalar(rng)
		}
	}
	switch rng.IntN(4) {
	case 0:
		m["n"] = map[string]any{"x": diffScalar(rng)}
	case 1:
		m["n"] = diffScalar(rng)
	}
	if rng.IntN(2) == 0 {
		var arr []any
		for range rng.IntN(4) {
			arr = append(arr, diffScalar(rng))
		}
		m["t"] = arr
	}
	data, _ := json.Marshal(m)
	return data
}

func diffFilter(rng *rand.Rand, depth int) domain.Filter {
	switch n := rng.IntN(10); {
	case n < 6 || depth > 1:
		return domain.Cmp{Op: domain.CmpOp(rng.IntN(int(domain.OpNotContains) + 1)), Path: diffPaths[rng.IntN(len(diffPaths))], Value: diffScalar(rng)}
	case n < 7:
		vals := make([]any, rng.IntN(4))
		for i := range vals {
			vals[i] = diffScalar(rng)
		}
		return domain.In{Path: diffPaths[rng.IntN(len(diffPaths))], Values: vals}
	default:
		fs := make([]domain.Filter, rng.IntN(4))
		for i := range fs {
			fs[i] = diffFilter(rng, depth+1)
		}
		if n < 9 {
			return domain.And{Filters: fs}
		}
		return domain.Or{Filters: fs}
	}
}

func diffQuery(rng *rand.Rand) domain.Query {
	q := domain.Query{Skip: rng.IntN(3) * rng.IntN(3), Take: rng.IntN(5)}
	if rng.IntN(4) > 0 {
		q.Filter = diffFilter(rng, 0)
	}
	if rng.IntN(3) > 0 {
		q.OrderBy = &domain.Order{Path: diffPaths[rng.IntN(len(diffPaths))], Desc: rng.IntN(2) == 0}
	}
	return q
}

func randomQueriesMatchReference(t *testing.T, open OpenStore) {
	s := open(t)
	rng := rand.New(rand.NewPCG(2026, 3))
	var writes []ports.Write
	for i := range 60 {
		writes = append(writes, putW("r", fmt.Sprintf("k%02d", i), string(diffDoc(rng)), ts(int64(i), 0, "A")))
	}
	mustCommit(t, s, lww, writes...)
	mustCommit(t, s, lww, delW("r", "k07", ts(100, 0, "A")), delW("r", "k33", ts(100, 1, "A")))
	ref := make([]domain.Document, 0, 60)
	for _, w := range writes {
		d := domain.DocumentFromEntry(&w.Entry)
		d.Deleted = w.Entry.Key == "k07" || w.Entry.Key == "k33"
		ref = append(ref, d)
	}
	for i := range 300 {
		q := diffQuery(rng)
		want, err := domain.ApplyQuery(q, ref)
		require.NoError(t, err)
		got, err := s.Find(t.Context(), "r", q)
		require.NoError(t, err, "query %d: %#v", i, q)
		require.Equal(t, docKeys(want), docKeys(got), "query %d: filter %#v order %#v skip %d take %d", i, q.Filter, q.OrderBy, q.Skip, q.Take)
		n, err := s.Count(t.Context(), "r", q.Filter)
		require.NoError(t, err)
		all, err := domain.ApplyQuery(domain.Query{Filter: q.Filter}, ref)
		require.NoError(t, err)
		require.Equal(t, len(all), n, "count %d: filter %#v", i, q.Filter)
	}
}
