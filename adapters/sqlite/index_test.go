package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

func queryPlan(t *testing.T, s *Store, f domain.Filter) (plan string, args []any) {
	t.Helper()
	q, _, release, err := s.prepareQuery("users", f)
	require.NoError(t, err)
	defer release()
	// As Find orders: by key.
	q.orderBy(nil)
	// EXPLAIN plans with the connection's cached schema; a real statement
	// first makes the connection notice an index created since.
	conn, err := s.reader.DB.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(t.Context(), "SELECT count(*) FROM documents")
	require.NoError(t, err)
	rows, err := conn.QueryContext(t.Context(), "EXPLAIN QUERY PLAN SELECT documents.key"+q.sb.String(), q.args...)
	require.NoError(t, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
		lines = append(lines, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n"), q.args
}

func TestIndexedPathUsesExpressionIndex(t *testing.T) {
	s, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "db"), EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	f := domain.Cmp{Op: domain.OpEq, Path: "profile.age", Value: 30}
	plan, _ := queryPlan(t, s, f)
	require.NotContains(t, plan, "docidx_")

	require.NoError(t, s.EnsureIndex(t.Context(), "users", "profile.age"))
	require.NoError(t, s.EnsureIndex(t.Context(), "users", "profile.age"), "idempotent")
	require.NoError(t, s.EnsureIndex(t.Context(), "users", "cat"))
	plan, _ = queryPlan(t, s, f)
	require.Contains(t, plan, "<expr>=?")
	require.NotContains(t, plan, "SCAN documents", "no full scan")

	// A plain equality or $in takes from the index, beside each candidate,
	// whether its indexed value alone proves the match (sureExpr): the
	// search stays covering, so no candidate row is read for it.
	for name, f := range map[string]domain.Filter{
		"eq integer": f,
		"in strings": domain.In{Path: "cat", Values: []any{"a", "b"}},
	} {
		plan, _ := queryPlan(t, s, f)
		require.Contains(t, plan, "LEFT-MOST SUBQUERY\nSEARCH documents USING COVERING INDEX docidx_", name)
	}

	// Ranges, $in with 10,000 values (one bound JSON array) and an indexed
	// conjunct beside others use it too.
	many := make([]any, 10_000)
	for i := range many {
		many[i] = fmt.Sprintf("c%05d", i)
	}
	for name, f := range map[string]domain.Filter{
		"gt":         domain.Cmp{Op: domain.OpGt, Path: "profile.age", Value: 30},
		"lte string": domain.Cmp{Op: domain.OpLte, Path: "cat", Value: "m"},
		"float eq":   domain.Cmp{Op: domain.OpEq, Path: "profile.age", Value: 30.5},
		"in 10000":   domain.In{Path: "cat", Values: many},
		"in mixed":   domain.In{Path: "cat", Values: []any{"a", 1, true}},
		"conjunct": domain.And{Filters: []domain.Filter{
			domain.Regex{Path: "name", Pattern: "^a"},
			domain.Cmp{Op: domain.OpEq, Path: "cat", Value: "c00001"},
		}},
	} {
		plan, _ := queryPlan(t, s, f)
		require.Contains(t, plan, "<expr>", name)
		require.Contains(t, plan, "USING INTEGER PRIMARY KEY (rowid=?)", name)
		require.NotContains(t, plan, "SCAN documents", name)
	}
	// What an index cannot narrow scans, and is still right (query_diff_test).
	plan, _ = queryPlan(t, s, domain.Or{Filters: []domain.Filter{domain.Cmp{Op: domain.OpEq, Path: "cat", Value: "a"}, domain.Cmp{Op: domain.OpEq, Path: "x", Value: 1}}})
	require.NotContains(t, plan, "docidx_")
}

func TestEnsureIndexRejectsPathsOutsideAllowlist(t *testing.T) {
	s, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	for _, p := range []string{"", "a..b", `a"b`, "a'b", "a b", "a);DROP TABLE documents;--", "a\\b"} {
		err := s.EnsureIndex(t.Context(), "users", p)
		require.Equal(t, domain.CodeInvalidArgument, domain.CodeOf(err), "path %q", p)
	}
	// A path with a quote is still queryable: it is bound, never spliced.
	_, err = s.Find(t.Context(), "users", domain.Query{Filter: domain.Cmp{Op: domain.OpEq, Path: "a'b", Value: "x"}})
	require.NoError(t, err)
}

// TestOplogReadsUseIndexes: the oplog's read paths seek, never scan, with
// the one index the schema keeps (the hash lookup is a backward scan by
// design: see oplogHashLookup).
func TestOplogReadsUseIndexes(t *testing.T) {
	s, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "db"), EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	for query, index := range map[string]string{
		`SELECT ` + entryCols + ` FROM oplog WHERE node = ? AND (wall, logic) > (?, ?) AND collection IN (?) ORDER BY wall, logic, seq LIMIT ?`: "sqlite_autoindex_oplog_1",
		`SELECT ` + entryCols + ` FROM oplog WHERE node = ? AND (wall, logic, node) > (?, ?, ?) ORDER BY wall, logic, seq LIMIT ?`:              "sqlite_autoindex_oplog_1",
	} {
		rows, err := s.reader.DB.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, "h", 1, 2, 3, 4)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		require.Contains(t, strings.Join(plan, "\n"), "USING INDEX "+index, query)
		require.NotContains(t, plan, "SCAN oplog", query)
	}
}
