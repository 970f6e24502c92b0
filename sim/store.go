package sim

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// The stores a run's nodes keep their data in (Options.Store).
const (
	StoreMemory = "memory" // adapters/memory: a crash keeps the store whole
	StoreSQLite = "sqlite" // adapters/sqlite on a file: a crash is a kill -9
)

// backend is what the simulator and the app's code need of a node's store:
// ports.Store and the optional capabilities both adapters have (the app
// finds them by type assertion, so the disk wrapper must carry them).
type backend interface {
	ports.Store
	ports.Snapshotter
	ports.Pruner
	ports.Compactor
	ports.StorageReporter
	ports.ProofStore
	ports.PeerKeys
	ports.PeerKeyReader
	SetClock(now func() time.Time)
}

// backup is a node's last backup.
type backup struct {
	mem  *memory.Store // memory: a clone
	path string        // sqlite: the file Store.Backup wrote
	vc   domain.VectorClock
}

// media makes the nodes' stores of one run, and crashes and backs them up
// as the store's kind does.
type media struct {
	kind  string
	dir   string // sqlite: the run's temporary directory
	files int    // sqlite: files made so far, so none is reused
	open  []io.Closer
}

func newMedia(kind string) (*media, error) {
	m := &media{kind: kind}
	if kind != StoreSQLite {
		return m, nil
	}
	dir, err := os.MkdirTemp("", "entgldb-sim-")
	if err != nil {
		return nil, err
	}
	m.dir = dir
	return m, nil
}

// path names a new file of the run.
func (m *media) path(name string) string {
	m.files++
	return filepath.Join(m.dir, fmt.Sprintf("%s-%d.db", name, m.files))
}

// fresh makes an empty store.
func (m *media) fresh(ctx context.Context, name string) (backend, error) {
	if m.kind != StoreSQLite {
		return memory.New(), nil
	}
	return m.openFile(ctx, m.path(name))
}

func (m *media) openFile(ctx context.Context, path string) (backend, error) {
	st, err := sqlite.Open(ctx, sqlite.Options{Path: path, EnableWAL: true})
	if err != nil {
		return nil, err
	}
	m.open = append(m.open, st)
	return st, nil
}

// crash returns what a node's store holds after its process dies. The
// memory store stands for a file and is kept whole. A SQLite store is
// killed as kill -9 leaves it: its database file and WAL are copied as they
// are on disk now, with no close, to a new path, and the copy is opened at
// once. Open replays what a restart would (the oplog after the
// materialized mark); nothing touches the store while the node is down, so
// opening it now or at the restart is the same. The old store is closed,
// its files never read again. replay is how many oplog entries were past
// the materialized mark at the kill: local writes whose documents were
// still pending, which the copy's Open replays.
func (m *media) crash(ctx context.Context, name string, b backend) (_ backend, replay int64, _ error) {
	st, ok := b.(*sqlite.Store)
	if !ok {
		return b, 0, nil
	}
	replay, err := unmaterialized(ctx, st)
	if err != nil {
		return nil, 0, err
	}
	dst := m.path(name)
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(st.Path()+suffix, dst+suffix); err != nil {
			return nil, 0, fmt.Errorf("sim: kill -9 copy: %w", err)
		}
	}
	// The copy is taken: a graceful close of the old files changes nothing
	// the node will see.
	_ = st.Close()
	nb, err := m.openFile(ctx, dst)
	return nb, replay, err
}

// materializedSeq is the SQLite store's meta key for the greatest oplog seq
// whose document is in the documents table (adapters/sqlite/pending.go).
const materializedSeq = "materialized_seq"

// unmaterialized counts the oplog entries past the materialized mark.
func unmaterialized(ctx context.Context, st *sqlite.Store) (int64, error) {
	last, err := st.LastSeq(ctx)
	if err != nil {
		return 0, err
	}
	v, ok, err := st.GetMeta(ctx, materializedSeq)
	if err != nil || !ok {
		return last, err
	}
	mark, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("sim: meta %s is %q: %w", materializedSeq, v, err)
	}
	return last - mark, nil
}

// backup makes an online backup of b: a clone of a memory store, the real
// Store.Backup (VACUUM INTO) of a SQLite one.
func (m *media) backup(ctx context.Context, name string, b backend) (*backup, error) {
	vc, err := b.VectorClock(ctx)
	if err != nil {
		return nil, err
	}
	if mem, ok := b.(*memory.Store); ok {
		return &backup{mem: mem.Clone(), vc: vc}, nil
	}
	path := m.path(name + "-backup")
	if _, err := b.(ports.Backupper).Backup(ctx, path); err != nil {
		return nil, err
	}
	return &backup{path: path, vc: vc}, nil
}

// restore makes a node's new store from its backup, as `entgldb restore`
// does: sqlite.Restore checks the backup and copies it to a new database
// file, which is opened.
func (m *media) restore(ctx context.Context, name string, bk *backup) (backend, error) {
	if bk.mem != nil {
		return bk.mem.Clone(), nil
	}
	dst := m.path(name)
	if err := sqlite.Restore(ctx, bk.path, dst); err != nil {
		return nil, err
	}
	return m.openFile(ctx, dst)
}

// close closes every store of the run and removes its files.
func (m *media) close() {
	for _, c := range m.open {
		_ = c.Close()
	}
	if m.dir != "" {
		_ = os.RemoveAll(m.dir)
	}
}

// copyFile copies src to dst byte for byte (a run's files are small).
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}
