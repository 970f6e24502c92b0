package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func TestDiskFullIsPersistenceErrorAndWritesNothing(t *testing.T) {
	s, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "db"), EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	// Cap the file at its current size: the next big write cannot fit.
	var pages int
	require.NoError(t, s.writer.DB.QueryRowContext(t.Context(), "PRAGMA page_count").Scan(&pages))
	_, err = s.writer.DB.ExecContext(t.Context(), fmt.Sprintf("PRAGMA max_page_count = %d", pages+1))
	require.NoError(t, err)

	big := fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", 64<<10))
	_, err = s.Commit(t.Context(), domain.LastWriteWins{}, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k",
		Op: domain.OpPut, Data: []byte(big), Stamp: domain.Timestamp{Wall: 1_700_000_000_000, Node: "A"}}})
	require.Equal(t, domain.CodePersistence, domain.CodeOf(err), "error: %v", err)
	var se *msqlite.Error
	require.True(t, errors.As(err, &se))
	require.Equal(t, sqlite3.SQLITE_FULL, se.Code()&0xff)

	_, err = s.Get(t.Context(), "c", "k")
	require.Equal(t, domain.CodeNotFound, domain.CodeOf(err))
	feed, err := s.EntriesSinceSeq(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Empty(t, feed)
	vc, err := s.VectorClock(t.Context())
	require.NoError(t, err)
	require.Empty(t, vc)
}

func TestCodeOfDriverErrors(t *testing.T) {
	require.Equal(t, domain.CodePersistence, codeOf(errors.New("anything else")))
	wrapped := mapErr("op", domain.Errorf(domain.CodeConflict, "inner", "x"))
	require.Equal(t, domain.CodeConflict, domain.CodeOf(wrapped), "domain codes are kept")
	require.Nil(t, mapErr("op", nil))
}
