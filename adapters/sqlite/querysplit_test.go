package sqlite_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/entgldb/entgldb-go/ports/porttest"
)

// A whole-collection scan cut into parts (querysplit.go) must answer what
// the single statement and the reference evaluator answer: the same
// documents in the same order, ties in key order, on fields of every kind;
// and the same counts.
func TestSplitScansMatchOneStatement(t *testing.T) {
	t.Parallel() // independent stores
	values := []string{
		`1`, `1.0`, `1e0`, `-2`, `0`, `-0`, `2.5`, `9007199254740993`, `1e300`,
		`"a"`, `"A"`, `""`, `"ab"`, `"é"`, `"1"`,
		`null`, `true`, `false`,
		`{"x":1}`, `{"x":"a"}`, `{}`, `{"y":[1,2]}`,
		`[]`, `[3,1]`, `["b",2]`, `[null]`, `[[1]]`, `[{"x":0}]`,
	}
	var entries []domain.Entry
	var docs []domain.Document
	for i := range 240 {
		// Most values come back several times (ties); "v" is missing from
		// every seventh document, "w" breaks some ties and not others.
		body := fmt.Sprintf(`{"w":%d`, i%3)
		if i%7 != 0 {
			body += `,"v":` + values[(i*5)%len(values)]
		}
		body += fmt.Sprintf(`,"n":{"v":%s}}`, values[i%len(values)])
		key := fmt.Sprintf("k%03d", (i*37)%240) // not written in key order
		e := domain.Entry{Collection: "docs", Key: key, Op: domain.OpPut, Data: []byte(body),
			Stamp: domain.Timestamp{Wall: 1_700_000_000_000 + int64(i), Node: "S"}}
		entries = append(entries, e)
		docs = append(docs, domain.Document{Collection: "docs", Key: key, Data: []byte(body)})
	}
	// Another collection in the same table, between the parts' cuts.
	entries = append(entries, domain.Entry{Collection: "other", Key: "k100", Op: domain.OpPut, Data: []byte(`{"v":0}`),
		Stamp: domain.Timestamp{Wall: 1_700_000_001_000, Node: "S"}})

	one, split := openTemp(t), openTemp(t)
	sqlite.SplitScans(split, 3)
	for _, s := range []*sqlite.Store{one, split} {
		_, err := s.ApplyRemote(t.Context(), domain.LastWriteWins{}, entries)
		require.NoError(t, err)
	}
	var queries []domain.Query
	for _, f := range []domain.Filter{nil, domain.Cmp{Op: domain.OpGte, Path: "w", Value: 1}, domain.Exists{Path: "v", Exists: true}} {
		for _, path := range []string{"v", "n.v", "w", "missing"} {
			for _, desc := range []bool{false, true} {
				for _, page := range [][2]int{{0, 0}, {0, 10}, {7, 25}, {230, 50}} {
					q := domain.Query{Filter: f, OrderBy: &domain.Order{Path: path, Desc: desc}, Skip: page[0], Take: page[1]}
					queries = append(queries, q)
					q.Sort = []domain.Order{{Path: "w", Desc: !desc}}
					queries = append(queries, q)
				}
			}
		}
		queries = append(queries, domain.Query{Filter: f}, domain.Query{Filter: f, Skip: 3, Take: 20})
		for _, limit := range []int{0, 1, 50, 1000} {
			want, err := one.CountUpTo(t.Context(), "docs", f, limit)
			require.NoError(t, err)
			before := sqlite.SplitRuns(split)
			got, err := split.CountUpTo(t.Context(), "docs", f, limit)
			require.NoError(t, err)
			require.Equal(t, want, got, "count of %s up to %d", describeFilter(f), limit)
			if f != nil {
				require.Equal(t, before+1, sqlite.SplitRuns(split), "count of %s ran split", describeFilter(f))
			}
		}
	}
	for _, q := range queries {
		want, err := domain.ApplyQuery(q, docs)
		require.NoError(t, err)
		got, err := one.Find(t.Context(), "docs", q)
		require.NoError(t, err)
		require.Equal(t, keysOf(want), keysOf(got), "one statement: %s", describe(q))
		before := sqlite.SplitRuns(split)
		got, err = split.Find(t.Context(), "docs", q)
		require.NoError(t, err)
		require.Equal(t, keysOf(want), keysOf(got), "split: %s", describe(q))
		// A page in key order with no filter walks the key index alone.
		wantRuns := before
		if q.Filter != nil || q.OrderBy != nil {
			wantRuns++
		}
		require.Equal(t, wantRuns, sqlite.SplitRuns(split), "ran split: %s", describe(q))
	}
}

// The store contract's query groups with every whole scan split in three
// parts: what they hold of Find and Count (tombstones, expiry, other
// collections) holds split too.
func TestStoreContractSplitScans(t *testing.T) {
	t.Parallel() // independent stores
	porttest.RunStoreSuite(t, func(t *testing.T) ports.Store {
		group := strings.Split(t.Name(), "/")[1]
		if !slices.Contains([]string{"ApplyRemote", "Documents", "Count", "Expiry", "Concurrency"}, group) {
			t.Skipf("%s runs no query", group)
		}
		s := openTemp(t)
		sqlite.SplitScans(s, 3)
		return s
	})
}
