package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	msqlite "modernc.org/sqlite"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// File snapshots (ports.SnapshotFileWriter, ports.SnapshotFileInstaller): a
// new node bootstraps from a copy of a peer's database file. The copy is
// made like a backup and stamped with the cluster tag; the receiver checks
// it (snapshotfile_verify.go), writes its own local tables into it and
// copies it page by page into its store in one transaction. Nothing of the
// install depends on the tables' columns: the file must have the
// receiver's schema version, and then every table has the same shape on
// both sides.

var (
	_ ports.SnapshotFileWriter    = (*Store)(nil)
	_ ports.SnapshotFileInstaller = (*Store)(nil)
)

// metaSnapshotCluster is the meta key a snapshot copy carries its cluster
// tag under.
const metaSnapshotCluster = "snapshot_cluster"

// snapshotLocalTables belong to the node that holds them, never to a file
// snapshot's receiver: the meta facts (node id, schema version, peer
// clocks; snapshotMetaKeys says what of meta is data), the peers it knows
// and the identity keys it has seen, and the JSON paths it indexes.
var snapshotLocalTables = map[string]bool{"meta": true, "peers": true, "peer_keys": true, "doc_indexes": true}

// snapshotMetaKeys are the meta rows that describe the data and travel with
// it: which oplog entries the documents table already holds.
var snapshotMetaKeys = []string{metaMaterializedSeq}

// WriteSnapshotFile writes a consistent copy of the database beside it,
// stamped with cluster and with own's chain signed (snapshotsign.go), and
// returns its path (0600); the caller removes it.
// Writers wait only until the pending documents are written and a read
// transaction has begun: the copy is that transaction's view, so it holds
// every document its oplog holds and its vector clock is current, and it
// is made with SQLite's backup API (a page copy) while writers go on.
func (s *Store) WriteSnapshotFile(ctx context.Context, cluster string, own ports.SnapshotSigner) (string, error) {
	const op = "sqlite.WriteSnapshotFile"
	start := time.Now()
	removeStale(s.opts.Path + snapshotSuffix)
	path := s.opts.Path + snapshotSuffix + randomSuffix()
	// The backup fills an empty file, which keeps the mode it was made
	// with.
	if err := createPrivate(path); err != nil {
		return "", domain.Wrap(domain.CodePersistence, op, err)
	}
	if err := s.copyTo(ctx, path); err != nil {
		removeDBFiles(path)
		return "", mapErr(op, err)
	}
	if err := stampSnapshot(ctx, path, cluster, own); err != nil {
		removeDBFiles(path)
		return "", domain.Wrap(domain.CodePersistence, op, err)
	}
	s.log.Debug("snapshot file made", zap.String("path", path), zap.Duration("took", time.Since(start)))
	return path, nil
}

// copyTo copies the materialized database to the empty file at path from
// a read transaction begun with writers held off. The copy reads through a
// connection of its own, opened for it with the file memory-mapped: a
// pooled reader's first read after writes clears its whole page cache
// (each page freed alone), and the backup's reads would have gone through
// that cache again page by page.
func (s *Store) copyTo(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+escapePath(s.opts.Path)+"?_pragma=busy_timeout("+
		strconv.FormatInt(s.opts.BusyTimeout.Milliseconds(), 10)+")&_pragma=query_only(1)&_pragma=mmap_size("+
		strconv.Itoa(snapshotMmapBytes)+")")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var tx *sql.Tx
	err = s.readPinned(ctx, func() error {
		var err error
		if tx, err = conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
			return err
		}
		// SQLite takes a transaction's snapshot at its first read.
		var n int
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM meta`).Scan(&n)
	})
	if tx != nil {
		defer func() { _ = tx.Rollback() }()
	}
	if err != nil {
		return err
	}
	return conn.Raw(func(dc any) error {
		b, err := asBackupConn(dc)
		if err != nil {
			return err
		}
		// Not synced, no journal: the copy lives only while it is sent.
		bk, err := b.NewBackup("file:" + escapePath(path) + "?_pragma=synchronous(OFF)&_pragma=journal_mode(OFF)")
		if err != nil {
			return err
		}
		_, err = bk.Step(-1) // in the read transaction of conn
		return errors.Join(err, bk.Finish())
	})
}

// backupConn is the driver connection's side of SQLite's backup API.
type backupConn interface {
	NewBackup(dstURI string) (*msqlite.Backup, error)
	NewRestore(srcURI string) (*msqlite.Backup, error)
}

func asBackupConn(dc any) (backupConn, error) {
	b, ok := dc.(backupConn)
	if !ok {
		return nil, fmt.Errorf("the SQLite driver has no backup API (%T)", dc)
	}
	return b, nil
}

// stampSnapshot writes the cluster tag and own's signatures into a copy
// and takes it out of WAL mode, so the one file is the whole database.
func stampSnapshot(ctx context.Context, path, cluster string, own ports.SnapshotSigner) error {
	db, err := openFile(path)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode = DELETE`); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, metaSnapshotCluster, cluster); err != nil {
		return err
	}
	if err := signOwnChain(ctx, tx, own); err != nil {
		return fmt.Errorf("sign this node's chain: %w", err)
	}
	return tx.Commit()
}

func randomSuffix() string {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return hex.EncodeToString(rnd[:])
}

// The temporary files beside the database: copies being sent, and files
// being received.
const snapshotSuffix, incomingSuffix = ".snapshot-", ".incoming-"

// staleAfter is the age past which a temporary file is a crash's leftover,
// not one still in use.
const staleAfter = time.Hour

// removeStale removes the temporary files named prefix* that a crash left.
func removeStale(prefix string) {
	names, _ := filepath.Glob(prefix + "*")
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil && time.Since(fi.ModTime()) > staleAfter {
			_ = os.Remove(n)
		}
	}
}

// removeDBFiles removes a database file and whatever SQLite kept beside it.
func removeDBFiles(path string) {
	for _, p := range []string{path, path + "-journal", path + "-wal", path + "-shm"} {
		_ = os.Remove(p)
	}
}

// InstallSnapshotFile receives a peer's snapshot file into a private
// temporary file beside the database, verifies it and copies its data in
// one transaction; see ports.SnapshotFileInstaller.
func (s *Store) InstallSnapshotFile(ctx context.Context, check ports.SnapshotFileCheck, fetch func(w io.Writer) error) (ports.SnapshotFileResult, error) {
	const op = "sqlite.InstallSnapshotFile"
	var res ports.SnapshotFileResult
	if empty, err := s.isEmpty(ctx, s.writer.DB, "main"); err != nil {
		return res, mapErr(op, err)
	} else if !empty {
		return res, domain.Wrap(domain.CodeConflict, op, ports.ErrStoreNotEmpty)
	}
	start := time.Now()
	f, err := s.receiveVerified(ctx, op, check, fetch)
	res.Bytes = f.size
	if err != nil {
		return res, err
	}
	defer removeDBFiles(f.path)
	n, tmp, verified := f.size, f.path, f.verified
	if err := s.installFile(ctx, tmp, verified, &res); err != nil {
		return ports.SnapshotFileResult{}, err
	}
	vc, err := s.VectorClock(ctx)
	if err != nil {
		return res, err
	}
	res.VectorClock = vc
	s.log.Info("snapshot file installed", zap.Int64("bytes", n), zap.Int("documents", res.Documents),
		zap.Int("entries", res.Entries), zap.Duration("took", time.Since(start)))
	return res, nil
}

// receiveFile has fetch write the file at path (created 0600, never
// replacing one).
func receiveFile(path string, fetch func(w io.Writer) error) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, privateFile)
	if err != nil {
		return 0, domain.Wrap(domain.CodePersistence, "sqlite.receiveFile", err)
	}
	cw := &countingWriter{w: f}
	err = fetch(cw)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = domain.Wrap(domain.CodePersistence, "sqlite.receiveFile", cerr)
	}
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// knownKeys are the identity keys this node holds for authors (peer_keys).
func (s *Store) knownKeys(ctx context.Context) (map[string][]byte, error) {
	return queryMap[[]byte](ctx, s.reader.DB, `SELECT node_id, public_key FROM peer_keys`)
}

// queryMap reads the (key, value) rows of query into a map.
func queryMap[V any](ctx context.Context, q querier, query string) (map[string]V, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]V{}
	for rows.Next() {
		var k string
		var v V
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// dataTables lists the tables of schema (main, or an attached file) that a
// file snapshot carries: every table but SQLite's own and the local ones.
func dataTables(ctx context.Context, q querier, schema string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM `+schema+`.sqlite_master
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		if !snapshotLocalTables[name] {
			out = append(out, name)
		}
	}
	return out, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// isEmpty reports whether every data table of schema is empty and nothing
// is pending in memory.
func (s *Store) isEmpty(ctx context.Context, q querier, schema string) (bool, error) {
	s.st.mu.RLock()
	busy := len(s.st.heads) > 0 || len(s.st.pending) > 0
	s.st.mu.RUnlock()
	if busy {
		return false, nil
	}
	tables, err := dataTables(ctx, q, schema)
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		var any int
		err := q.QueryRowContext(ctx, `SELECT 1 FROM `+schema+`.`+quoteIdent(t)+` LIMIT 1`).Scan(&any)
		if err == nil {
			return false, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
	}
	return true, nil
}

func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// installFile puts the verified file's data in place of the store's empty
// data with writers held off: the file gets the receiver's own tables
// (installLocalTables), then SQLite's backup API copies it page by page
// into the store in one write transaction, so a crash leaves either the
// empty store or the whole snapshot under this node's identity. A page
// copy rebuilds no b-tree and decodes no row.
func (s *Store) installFile(ctx context.Context, path string, verified verifiedFile, res *ports.SnapshotFileResult) error {
	const op = "sqlite.InstallSnapshotFile"
	s.st.wmu.Lock()
	defer s.st.wmu.Unlock()
	conn, err := s.writer.DB.Conn(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer conn.Close()
	// Checked again with the write lock held: a write may have come since.
	if empty, err := s.isEmpty(ctx, conn, "main"); err != nil {
		return mapErr(op, err)
	} else if !empty {
		return domain.Wrap(domain.CodeConflict, op, ports.ErrStoreNotEmpty)
	}
	if err := installLocalTables(ctx, path, s.opts.Path, verified, res); err != nil {
		return mapErr(op, fmt.Errorf("carry this node's own tables into the file: %w", err))
	}
	restoreCache, err := smallCache(ctx, conn)
	if err != nil {
		return mapErr(op, err)
	}
	defer restoreCache()
	if err := conn.Raw(func(dc any) error { return restoreFrom(ctx, dc, path) }); err != nil {
		return mapErr(op, fmt.Errorf("copy the file into the store: %w", err))
	}
	heads := map[string]head{}
	var lastSeq int64
	err = conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM oplog`).Scan(&lastSeq)
	if err == nil {
		err = readHeads(ctx, conn, heads)
	}
	if err != nil {
		// Installed, but the heads could not be read: the store's memory
		// would disagree with its file until it is reopened.
		return domain.Errorf(domain.CodePersistence, op, "installed, but reading the heads back failed (reopen the store): %w", err)
	}
	s.st.mu.Lock()
	s.st.heads = heads
	s.st.lastSeq = lastSeq
	s.st.mu.Unlock()
	res.LastSeq = lastSeq
	return nil
}

// installLocalTables replaces the local tables of the snapshot file at path
// (the sender's meta, peers, keys and JSON-path indexes) with those of the
// database at own, keeping the meta rows that describe the data
// (snapshotMetaKeys), pins the keys the verification found
// (verifiedFile), leaves out the rows no entry proves, and counts what the
// file brings. It runs after the file was verified: only this node writes
// into it.
func installLocalTables(ctx context.Context, path, own string, verified verifiedFile, res *ports.SnapshotFileResult) error {
	db, err := openFile(path)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // the ATTACH holds for one connection
	// The file is a copy to restore from: a crash only loses the copy.
	if _, err := db.ExecContext(ctx, `PRAGMA synchronous = OFF`); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `ATTACH DATABASE ? AS own`, own); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	dataKeys := make([]string, len(snapshotMetaKeys))
	args := make([]any, len(snapshotMetaKeys))
	for i, k := range snapshotMetaKeys {
		dataKeys[i], args[i] = "?", k
	}
	notData := `key NOT IN (` + strings.Join(dataKeys, ", ") + `)`
	if _, err := tx.ExecContext(ctx, `DELETE FROM main.meta WHERE `+notData, args...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO main.meta SELECT * FROM own.meta WHERE `+notData, args...); err != nil {
		return err
	}
	for t := range snapshotLocalTables {
		if t == "meta" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM main.`+quoteIdent(t)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.`+quoteIdent(t)+` SELECT * FROM own.`+quoteIdent(t)); err != nil {
			return err
		}
	}
	if err := swapDocIndexes(ctx, tx); err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	for author, key := range verified.newKeys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.peer_keys (node_id, public_key, first_seen) VALUES (?, ?, ?)
			ON CONFLICT (node_id) DO NOTHING`, author, key, now); err != nil {
			return err
		}
	}
	if verified.orphanMarkers > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM main.documents WHERE deleted <> 0 AND data IS NULL AND NOT EXISTS (
			SELECT 1 FROM main.oplog o WHERE o.node = documents.node AND o.wall = documents.wall AND o.logic = documents.logic
				AND o.collection = documents.collection AND o.key = documents.key)`); err != nil {
			return err
		}
	}
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM main.documents), (SELECT count(*) FROM main.oplog)`).
		Scan(&res.Documents, &res.Entries); err != nil {
		return err
	}
	return tx.Commit()
}

// swapDocIndexes drops the file's JSON-path indexes (the sender's) and
// builds this node's (EnsureIndex names them docidx_*).
func swapDocIndexes(ctx context.Context, tx *sql.Tx) error {
	indexes := func(schema string) (map[string]string, error) {
		return queryMap[string](ctx, tx, `SELECT name, sql FROM `+schema+`.sqlite_master
			WHERE type = 'index' AND name LIKE 'docidx\_%' ESCAPE '\'`)
	}
	theirs, err := indexes("main")
	if err != nil {
		return err
	}
	ours, err := indexes("own")
	if err != nil {
		return err
	}
	for name := range theirs {
		if _, err := tx.ExecContext(ctx, `DROP INDEX main.`+quoteIdent(name)); err != nil {
			return err
		}
	}
	for name, def := range ours {
		// def is "CREATE INDEX name ON documents (...)": made for the
		// file, where documents is main.documents.
		if !strings.HasPrefix(def, "CREATE INDEX "+name+" ") {
			return fmt.Errorf("index %s: unexpected definition %q", name, def)
		}
		if _, err := tx.ExecContext(ctx, "CREATE INDEX main."+name+" "+strings.TrimPrefix(def, "CREATE INDEX "+name+" ")); err != nil {
			return err
		}
	}
	return nil
}

// restoreCacheKiB is the page cache the restore writes through. The
// writer's own cache is large, for big write transactions; a restore is
// one transaction of every page, which through a large cache allocates a
// fresh page for each (and frees them all at the end), where a small one
// reuses its pages and writes the rest to the WAL early.
const restoreCacheKiB = 2048

// smallCache sets conn's page cache to restoreCacheKiB and returns what
// sets it back.
func smallCache(ctx context.Context, conn *sql.Conn) (restore func(), err error) {
	var was int64
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&was); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = `+strconv.Itoa(-restoreCacheKiB)); err != nil {
		return nil, err
	}
	return func() {
		// Even when ctx ended: the connection goes back to the pool.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA cache_size = `+strconv.FormatInt(was, 10))
	}, nil
}

// snapshotMmapBytes is how much of a received snapshot file the install
// reads through a memory map (the rest, if any, it reads as usual).
const snapshotMmapBytes = 1 << 30

// restoreStepPages is what one step of the restore copies; between steps
// the install looks at its context. restoreStepped (tests) runs after each
// step but the last, with the write transaction still open.
var (
	restoreStepPages int32 = 4096
	restoreStepped   func()
)

// restoreFrom copies the database file at path over the main database of
// the driver connection dc, in one write transaction.
func restoreFrom(ctx context.Context, dc any, path string) (err error) {
	r, err := asBackupConn(dc)
	if err != nil {
		return err
	}
	// Mapped: the pages are copied from the file, not read into a cache
	// first.
	// The file is read through a memory map: read into a page cache, every
	// page of it was allocated and freed again, each free of the cache's
	// last pages a system call.
	b, err := r.NewRestore("file:" + escapePath(path) + "?mode=ro&_pragma=mmap_size(" + strconv.Itoa(snapshotMmapBytes) + ")")
	if err != nil {
		return err
	}
	// Finish before the last step rolls the destination back.
	defer func() { err = errors.Join(err, b.Finish()) }()
	for {
		more, err := b.Step(restoreStepPages)
		if err != nil || !more {
			return err
		}
		if restoreStepped != nil {
			restoreStepped()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
