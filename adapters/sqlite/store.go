// Package sqlite is the durable store of a node: documents, the oplog, the
// vector clock, peers and the offline queue in one SQLite file, through bun
// (schema, migrations, small queries) and the pure-Go driver modernc.org/sqlite.
// Hot paths (Commit, ApplyRemote, Get) use statements prepared once. A local
// last-write-wins write commits its oplog entry alone and its document
// reaches the documents table with others (pending.go); the WAL is
// checkpointed off the write path (checkpointer.go).
//
// A write goes down: commit.go (local writes), applyremote.go (peers'
// entries), snapshot.go and prune.go choose what to store; writetx.go is
// the write transaction and its row-level operations; state.go the
// in-memory pending documents and heads; stmts.go the prepared statements.
// pending.go materializes pending documents, for writes and for every read
// (Store.read). Reads: documents.go; find.go with query.go (the SQL around
// a filter), queryfuncs.go (domain's evaluator and sort keys as SQL
// functions) and querycache.go; oplog.go (entries and clocks); proofs.go
// (content links and proofs, domain/authorproof.go: what proving entries
// to peers reads, helped by recententries.go; proofcodec.go is the stored
// proof). Maintenance: schema.go (with linkmigration.go), checkpointer.go,
// backup.go, integrity.go.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"go.uber.org/zap"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DefaultBatchSize bounds the entries ApplyRemote writes per transaction.
const DefaultBatchSize = domain.DefaultSyncBatchSize

// Options configure Open.
type Options struct {
	// Path of the database file (created when missing).
	Path string
	// EnableWAL selects the write-ahead log (readers never block the writer).
	EnableWAL bool
	// SyncFull makes every commit durable across power loss (synchronous=FULL);
	// the default NORMAL is durable across process crashes.
	SyncFull bool
	// BatchSize bounds ApplyRemote transactions (<= 0: DefaultBatchSize).
	BatchSize int
	// Logger receives operational events (nil: no logging).
	Logger *zap.Logger
	// AutoRestoreOnCorruption replaces a database that fails its check at
	// open with the newest good backup in BackupDir.
	AutoRestoreOnCorruption bool
	BackupDir               string
	// ReadConns bounds the read pool (<= 0: 4).
	ReadConns int
	// BusyTimeout is how long a statement waits for a lock held by another
	// process before failing with TIMEOUT_ERROR (<= 0: 5s).
	BusyTimeout time.Duration
	// Now is the clock that decides whether a document has expired
	// (nil: time.Now); tests set it, or call SetClock.
	Now func() time.Time

	// walSoft and walHard override the checkpointer's limits (tests;
	// walLimits).
	walSoft, walHard int64
	walEvery         time.Duration
}

// Store implements ports.Store and the optional store capabilities.
type Store struct {
	opts Options
	log  *zap.Logger

	// writer has exactly one connection: SQLite allows one writer at a time,
	// and queueing writers in Go is cheaper than SQLITE_BUSY retries.
	writer *bun.DB
	reader *bun.DB

	stmts   stmts
	queries *queryCache
	st      state // pending documents and heads (state.go, pending.go)
	recent  recentEntries

	// split cuts whole-collection scans in parts (querysplit.go).
	split splitState

	idxMu   sync.RWMutex
	indexed map[string]bool // JSON paths with an expression index

	ckpt *checkpointer // nil without WAL

	closeOnce sync.Once
	closeErr  error

	// restored is true when Open replaced a corrupt file with a backup.
	restored bool

	// now decides which documents have expired (SetClock).
	now atomic.Pointer[func() time.Time]
}

// SetClock replaces the clock that decides whether a document has expired
// (nil: time.Now). Reads from then on judge expiry by it.
func (s *Store) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.now.Store(&now)
}

// nowMs is the current time of the expiry clock, in Unix milliseconds.
func (s *Store) nowMs() int64 { return (*s.now.Load())().UnixMilli() }

// RestoredFromBackup reports whether Open replaced a corrupt database with
// the newest good backup (AutoRestoreOnCorruption). The caller must then
// treat the node as restored: see entgldb.ForgetNodeID.
func (s *Store) RestoredFromBackup() bool { return s.restored }

var (
	_ ports.Store            = (*Store)(nil)
	_ ports.Pruner           = (*Store)(nil)
	_ ports.Snapshotter      = (*Store)(nil)
	_ ports.IntegrityChecker = (*Store)(nil)
	_ ports.Backupper        = (*Store)(nil)
)

// readerMmapBytes is how much of the database file each read connection
// maps (address space, not memory: the OS pages it in and out).
const readerMmapBytes = 1 << 30

// dsn builds the connection string. _pragma values run on every new pool
// connection; _txlock=immediate makes BEGIN take the write lock up front so
// read-then-write transactions never fail with SQLITE_BUSY halfway.
// walLimit (writer only) is the size the WAL file is cut back to when the
// writer restarts it: overwriting a reused file costs less than extending
// one (BENCHMARKS.md, third pass).
func dsn(path string, busy time.Duration, wal, syncFull, writer bool, walLimit int64) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		if wal {
			q.Add("_pragma", "journal_mode(WAL)")
			// The writer never checkpoints: a goroutine does, off the
			// write path (checkpointer.go).
			q.Add("_pragma", "wal_autocheckpoint(0)")
			q.Add("_pragma", "journal_size_limit("+strconv.FormatInt(walLimit, 10)+")")
		} else {
			q.Add("_pragma", "journal_mode(DELETE)")
		}
		q.Set("_txlock", "immediate")
		// A full ApplyRemote batch dirties more pages than SQLite's
		// default cache holds; spilling them mid-transaction writes them
		// twice.
		q.Add("_pragma", "cache_size(-32768)")
		// Statement journals (kept by multi-row statements and upserts
		// so one statement can roll back alone) in memory: as a temp
		// file they cost two write syscalls per page touched.
		q.Add("_pragma", "temp_store(MEMORY)")
	}
	if !writer {
		// Readers map the file: a query that reads a whole collection
		// (an unindexed filter or sort) then costs no read syscall and no
		// copy per page. The writer keeps plain I/O.
		q.Add("_pragma", "mmap_size("+strconv.FormatInt(readerMmapBytes, 10)+")")
	}
	if syncFull {
		q.Add("_pragma", "synchronous(FULL)")
	} else {
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	return "file:" + escapePath(path) + "?" + q.Encode()
}

// Open opens (creating if needed) the database at opts.Path, checks it with
// quick_check and migrates its schema. A database it creates is 0600 (its
// WAL and shared-memory index too) in directories it creates 0700. A corrupt file is refused with
// CORRUPTION, or replaced from a backup when AutoRestoreOnCorruption is set.
func Open(ctx context.Context, opts Options) (*Store, error) {
	const op = "sqlite.Open"
	if opts.Path == "" {
		return nil, domain.Errorf(domain.CodeConfig, op, "database path is empty")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	s, err := open(ctx, opts, log)
	if err == nil || domain.CodeOf(err) != domain.CodeCorruption || !opts.AutoRestoreOnCorruption {
		return s, err
	}
	if rerr := restoreNewestBackup(ctx, opts.Path, opts.BackupDir, log); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	s, err = open(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	s.restored = true
	return s, nil
}

func open(ctx context.Context, opts Options, log *zap.Logger) (*Store, error) {
	const op = "sqlite.Open"
	if fileExists(opts.Path) {
		// Check through a plain connection before the writer's pragmas
		// (journal mode) touch the file.
		if err := CheckFile(ctx, opts.Path, false); err != nil {
			return nil, domain.Wrap(domain.CodeCorruption, op, err)
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(opts.Path), privateDir); err != nil {
			return nil, domain.Wrap(domain.CodePersistence, op, err)
		}
		if err := createPrivate(opts.Path); err != nil {
			return nil, domain.Wrap(domain.CodePersistence, op, err)
		}
	}
	wdb, err := sql.Open("sqlite", dsn(opts.Path, opts.BusyTimeout, opts.EnableWAL, opts.SyncFull, true, opts.walLimits().soft))
	if err != nil {
		return nil, mapErr(op, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	s := &Store{opts: opts, log: log, writer: bun.NewDB(wdb, sqlitedialect.New()), indexed: map[string]bool{}}
	s.SetClock(opts.Now)
	fail := func(err error) (*Store, error) {
		s.stmts.close()
		if s.queries != nil {
			s.queries.close()
		}
		if s.reader != nil {
			_ = s.reader.Close()
		}
		_ = s.writer.Close()
		return nil, err
	}
	if err := ensureIncrementalVacuum(ctx, s.writer, log); err != nil {
		return fail(mapErr(op, err))
	}
	if err := migrate(ctx, s.writer); err != nil {
		return fail(domain.Wrap(domain.CodePersistence, op, err))
	}
	rdb, err := sql.Open("sqlite", dsn(opts.Path, opts.BusyTimeout, opts.EnableWAL, opts.SyncFull, false, 0))
	if err != nil {
		return fail(mapErr(op, err))
	}
	rdb.SetMaxOpenConns(opts.ReadConns)
	rdb.SetMaxIdleConns(opts.ReadConns)
	s.reader = bun.NewDB(rdb, sqlitedialect.New())
	s.queries = &queryCache{db: rdb, max: 256, m: map[string]*sql.Stmt{}}
	if err := s.stmts.prepare(ctx, wdb, rdb); err != nil {
		return fail(mapErr(op, err))
	}
	if err := s.loadIndexes(ctx); err != nil {
		return fail(err)
	}
	var docIndex int
	if err := wdb.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'oplog_doc'`).Scan(&docIndex); err != nil {
		return fail(mapErr(op, err))
	}
	s.stmts.docIndexed.Store(docIndex > 0)
	if err := s.loadState(ctx); err != nil {
		return fail(err)
	}
	if opts.EnableWAL {
		// A short busy timeout: a TRUNCATE checkpoint holds off writers
		// while it waits for readers, so it gives up soon and retries at
		// the next tick rather than stall writes.
		cdb, err := sql.Open("sqlite", dsn(opts.Path, walBusyTimeout, true, opts.SyncFull, false, 0))
		if err != nil {
			return fail(mapErr(op, err))
		}
		cdb.SetMaxOpenConns(1)
		s.ckpt = startCheckpointer(cdb, opts.Path, opts.walLimits(), &s.st.wmu, log)
	}
	log.Debug("sqlite store opened", zap.String("path", opts.Path), zap.Bool("wal", opts.EnableWAL))
	return s, nil
}

// Close closes both pools; the last connection to close checkpoints the WAL.
// closeFlushTimeout bounds the materialization Close does, so a shutdown
// never waits long for work the next Open can redo.
var closeFlushTimeout = 5 * time.Second

func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// Refresh planner statistics where SQLite thinks it pays (cheap;
		// what the SQLite docs advise before closing).
		ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
		// The documents need no replay at the next Open. Pending documents
		// are durable in the oplog, so a flush that runs out of time (a
		// loaded machine) only leaves the replay to the next Open: that is
		// not a failure of Close.
		ferr := s.materialize(ctx)
		if ferr != nil && domain.CodeOf(ferr) == domain.CodeTimeout {
			s.log.Warn("pending documents not materialized before close; the next open replays them", zap.Error(ferr))
			ferr = nil
		}
		if _, err := s.writer.DB.ExecContext(ctx, "PRAGMA optimize"); err != nil {
			s.log.Warn("PRAGMA optimize failed", zap.Error(err))
		}
		cancel()
		var cerr error
		if s.ckpt != nil {
			cerr = s.ckpt.close()
		}
		s.stmts.close()
		s.queries.close()
		rerr := s.reader.Close()
		werr := s.writer.Close()
		s.closeErr = mapErr("sqlite.Close", errors.Join(ferr, cerr, rerr, werr))
	})
	return s.closeErr
}

// Ping checks the store answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return mapErr("sqlite.Ping", s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one))
}

// Path is the database file.
func (s *Store) Path() string { return s.opts.Path }

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() > 0
}

func escapePath(p string) string { return (&url.URL{Path: p}).EscapedPath() }
