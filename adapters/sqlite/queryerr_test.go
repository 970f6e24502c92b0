package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

func TestQueryErrorsCarryNoSQL(t *testing.T) {
	s, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	_, err = s.queries.query(t.Context(), "SELECT nonsense FROM nowhere WHERE x = ?", 1)
	require.Error(t, err)
	err = queryErr("sqlite.Find", err, nil)
	require.Equal(t, domain.CodePersistence, domain.CodeOf(err))
	require.NotContains(t, err.Error(), "nowhere")
	require.NotContains(t, strings.ToLower(err.Error()), "select")

	// A stored document that is not JSON is CORRUPTION when the evaluator
	// reads it, as the reference says; SQLite's JSON functions (a plain
	// equality is decided by them) fail on it too, without SQL in the error.
	_, err = s.writer.DB.ExecContext(t.Context(),
		`INSERT INTO documents (collection, key, data, wall, logic, node) VALUES ('c', 'k', '{bad', 1, 0, 'n')`)
	require.NoError(t, err)
	_, err = s.Find(t.Context(), "c", domain.Query{Filter: domain.Regex{Path: "a", Pattern: "x"}})
	require.Equal(t, domain.CodeCorruption, domain.CodeOf(err))
	_, err = s.Count(t.Context(), "c", domain.Exists{Path: "a", Exists: true})
	require.Equal(t, domain.CodeCorruption, domain.CodeOf(err))
	_, err = s.Find(t.Context(), "c", domain.Query{Filter: domain.Cmp{Op: domain.OpEq, Path: "a", Value: 1}})
	require.Error(t, err)
	require.NotContains(t, strings.ToLower(err.Error()), "json_")
}
