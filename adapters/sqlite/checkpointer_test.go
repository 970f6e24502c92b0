package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	require.NoError(t, err)
	return fi.Size()
}

// commitN writes n ~1 KB documents through the fast path and materializes
// them (Count), so the WAL holds documents and oplog pages.
func commitN(t *testing.T, s *Store, from, n int) {
	t.Helper()
	body := strings.Repeat("x", 1000)
	for i := from; i < from+n; i++ {
		_, err := s.Commit(t.Context(), domain.LastWriteWins{}, ports.Write{Entry: domain.Entry{Collection: "c",
			Key: fmt.Sprint("k", i), Data: fmt.Appendf(nil, `{"i":%d,"b":%q}`, i, body),
			Stamp: domain.Timestamp{Wall: int64(1_700_000_000_000 + i), Node: "A"}}})
		require.NoError(t, err)
	}
	_, err := s.Count(t.Context(), "c", nil)
	require.NoError(t, err)
}

// TestCheckpointerModes drives check by hand: below the soft limit it does
// nothing; past it a PASSIVE checkpoint lets the next writes reuse the WAL
// from its start (the file stops growing); past the hard limit a TRUNCATE
// checkpoint empties it.
func TestCheckpointerModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	// A ticker that never fires in the test: check runs by hand.
	s, err := Open(t.Context(), Options{Path: path, EnableWAL: true, walSoft: 1 << 20, walHard: 32 << 20, walEvery: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	c := s.ckpt

	commitN(t, s, 0, 20)
	small := walSize(t, path)
	require.Less(t, small, int64(1<<20))
	c.check()
	require.Equal(t, small, walSize(t, path), "below the soft limit nothing happens")

	commitN(t, s, 20, 400) // past 1 MiB, below 32 MiB
	grown := walSize(t, path)
	require.Greater(t, grown, int64(1<<20))
	require.Less(t, grown, int64(32<<20))
	c.check() // PASSIVE: every frame copied, none in use
	commitN(t, s, 420, 20)
	require.Equal(t, grown, walSize(t, path), "after a full PASSIVE checkpoint the writer restarts the WAL from its start")

	c.hard = 256 << 10
	c.check() // TRUNCATE
	require.Zero(t, walSize(t, path))
	n, err := s.Count(t.Context(), "c", nil)
	require.NoError(t, err)
	require.Equal(t, 440, n)
}

// TestCheckpointerBoundsWAL: with the goroutine running, writes that add
// several times the limit end with a WAL below it. The writer never
// checkpoints (wal_autocheckpoint is 0), so only the goroutine can have
// done that; every document is then found after a reopen.
func TestCheckpointerBoundsWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(t.Context(), Options{Path: path, EnableWAL: true, Logger: zap.NewNop(),
		walSoft: 512 << 10, walHard: 512 << 10, walEvery: 5 * time.Millisecond})
	require.NoError(t, err)
	commitN(t, s, 0, 1500) // several MB of document and oplog pages
	require.Eventually(t, func() bool { return walSize(t, path) < 512<<10 }, 20*time.Second, 5*time.Millisecond)
	require.NoError(t, s.Close())

	s, err = Open(t.Context(), Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	n, err := s.Count(t.Context(), "c", nil)
	require.NoError(t, err)
	require.Equal(t, 1500, n)
}
