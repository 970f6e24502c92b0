package sqlite_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/entgldb/entgldb-go/ports/porttest"
)

func openAt(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(dir, "entgldb.db"), EnableWAL: true})
	require.NoError(t, err)
	return s
}

// openTemp opens a fresh store in its own temporary directory.
func openTemp(t *testing.T) *sqlite.Store {
	t.Helper()
	s := openAt(t, t.TempDir())
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestStoreContract(t *testing.T) {
	t.Parallel() // independent stores; the slowest tests overlap on a multi-core machine
	porttest.RunStoreSuite(t, func(t *testing.T) ports.Store { return openTemp(t) })
}

func TestStoreContractSmallBatches(t *testing.T) {
	t.Parallel() // independent stores; the slowest tests overlap on a multi-core machine
	// Batches of 2 make every multi-entry ApplyRemote span transactions.
	// Only the groups that apply remote entries depend on the batch size;
	// the others run once, in TestStoreContract.
	porttest.RunStoreSuite(t, func(t *testing.T) ports.Store {
		group := strings.Split(t.Name(), "/")[1]
		if !slices.Contains([]string{"ApplyRemote", "Oplog", "Concurrency", "Pruner", "Snapshotter", "Proofs"}, group) {
			t.Skipf("%s does not depend on the batch size", group)
		}
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "db"), EnableWAL: true, BatchSize: 2})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

func TestDurabilityContract(t *testing.T) {
	porttest.RunDurabilitySuite(t, func(t *testing.T, dir string) ports.Store { return openAt(t, dir) })
}
