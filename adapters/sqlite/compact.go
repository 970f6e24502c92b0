package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var (
	_ ports.Compactor       = (*Store)(nil)
	_ ports.StorageReporter = (*Store)(nil)
)

// compactBatch bounds the oplog rows one compaction batch looks at and
// what it removes. The removals are also bounded in time: each batch
// removes as many as the previous ones took, per row, to fill compactHold
// (at least compactMinRemove, so the fixed cost of a transaction does not
// dominate). A write that comes while a batch holds the writer lock waits
// for the rest of it, and under a steady load some write meets nearly
// every batch: so compactHold, more than the number of batches, sets a
// write's tail latency during a pass. It is about what a write's own
// transaction takes at its p99 (BENCHMARKS.md, maintenance row).
const (
	compactBatch     = 100
	compactHold      = 500 * time.Microsecond
	compactMinRemove = 16
)

// compactScan reads a batch of oplog rows after a seq with what the rule
// needs: the document's current stamp (the newest version held, or the
// marker of a collected delete) and the entry's size, up to the last seq
// when the pass began (what writers add meanwhile waits for the next
// pass, or a pass under a steady write load would never end). The
// greatest seq is never removed (see pruneWhere).
const compactScan = `SELECT o.seq, o.node, o.wall, o.logic, o.op, o.hash, o.expires_at,
		length(o.collection) + length(o.key) + coalesce(length(o.data), CASE WHEN o.op = 0 AND d.wall = o.wall AND d.logic = o.logic
				AND d.node = o.node THEN length(d.data) END, 0) + length(o.node)
			+ length(o.hash) + coalesce(length(o.prev_hash), length(o.hash)) + coalesce(length(o.proof), 0) + 32,
		d.wall, d.logic, d.node
	FROM oplog o LEFT JOIN documents d ON d.collection = o.collection AND d.key = o.key
	WHERE o.seq > ? AND o.seq <= ? AND o.seq < (SELECT max(seq) FROM oplog)
	ORDER BY o.seq LIMIT ?`

// The writes of a batch, each naming its seqs in a JSON array. A boundary
// is added only while its entry and successor are both still held.
const (
	compactDropBoundaries = `DELETE FROM link_boundaries WHERE hash IN (SELECT value FROM json_each(?1))`
	compactAddBoundary    = `INSERT OR REPLACE INTO link_boundaries (hash, link) SELECT ?1, ?2
		WHERE EXISTS (SELECT 1 FROM oplog WHERE seq = ?3) AND EXISTS (SELECT 1 FROM oplog WHERE seq = ?4)`
	compactDelete = `DELETE FROM oplog WHERE seq IN (SELECT value FROM json_each(?1))`

	// compactExpired turns the rows of collected expired documents into
	// the marker a collected delete leaves (key and stamp, no content).
	// Only a removed entry that is its document's current version counts.
	compactExpired = `UPDATE documents SET data = NULL, deleted = 1, expires_at = 0
		WHERE deleted = 0 AND expires_at <> 0 AND EXISTS (SELECT 1 FROM oplog o
			WHERE o.seq IN (SELECT value FROM json_each(?1)) AND o.collection = documents.collection AND o.key = documents.key
				AND o.wall = documents.wall AND o.logic = documents.logic AND o.node = documents.node)`
)

// Compact implements ports.Compactor in batches of compactBatch rows. A
// pass covers the oplog up to its last seq when the pass began, with the
// pending documents written first: each document's row then holds its
// current stamp as of that seq, so the rule sees it, and nothing the
// replay at Open would need is removed. What a batch removes is chosen on
// a read connection (compactPlan), outside the writer lock; the write
// transaction only deletes, so a writer waits for little. Each batch is
// followed by a pause as long as it took (its read and its write): the
// writers queued behind it go first, and the pass leaves them the CPU. The
// batches leave what writers add meanwhile pending (writeKeepPending):
// materializing it is the writers' work, which a batch would otherwise do
// many times over in small pieces while they wait. What changes between
// the read and the write only makes more entries removable: documents and
// heads move forward, and seqs are never reused (the greatest is never
// removed).
func (s *Store) Compact(ctx context.Context, p domain.CompactionPolicy) (ports.CompactionResult, error) {
	const op = "sqlite.Compact"
	// Entries the proving reads remember may be removed (as after Prune).
	defer s.recent.forget()
	var res ports.CompactionResult
	var cursor, end int64
	limit := compactBatch
	var st compactStmts
	defer st.close()
	s.st.wmu.Lock()
	err := s.materializeLocked(ctx)
	if err == nil {
		end, err = s.LastSeq(ctx)
	}
	if err == nil {
		err = st.prepare(ctx, s.reader.DB, s.writer.DB)
	}
	s.st.wmu.Unlock()
	if err != nil {
		return res, mapErr(op, err)
	}
	// Writers are active while the oplog grows: only then does a batch
	// owe them a pause (a pass over an idle store runs at full speed).
	seen := end
	for {
		if err := ctx.Err(); err != nil {
			return res, domain.Wrap(domain.CodeTimeout, op, err)
		}
		began := time.Now()
		plan, err := s.compactPlan(ctx, &st, p, cursor, end, limit)
		if err != nil {
			return res, mapErr(op, err)
		}
		cursor = plan.cursor
		if len(plan.removed) > 0 {
			var held time.Time
			err := s.writeKeepPending(ctx, op, func(t *writeTx) error {
				held = time.Now()
				return t.compactApply(&st, &plan)
			})
			if err != nil {
				return res, err
			}
			// Counted only now: a batch that fails is rolled back whole.
			res.EntriesRemoved += plan.res.EntriesRemoved
			res.TombstonesRemoved += plan.res.TombstonesRemoved
			res.BytesRemoved += plan.res.BytesRemoved
			took := time.Since(held)
			limit = nextLimit(limit, len(plan.removed), took)
			if last, _ := s.LastSeq(ctx); plan.more && last != seen {
				seen = last
				pauseForWriters(ctx, time.Since(began))
			}
		}
		if !plan.more {
			return res, nil
		}
	}
}

// nextLimit is the removals of the next batch: what fills compactHold at
// the pace of the last write (removed rows in took), averaged with the
// last limit so one slow write does not swing it.
func nextLimit(limit, removed int, took time.Duration) int {
	fill := compactBatch
	if took > 0 {
		fill = int(int64(removed) * int64(compactHold) / int64(took))
	}
	return min(max((limit+fill)/2, compactMinRemove), compactBatch)
}

// compactPlan is what one batch removes.
type compactPlan struct {
	more       bool  // rows after cursor are left for the next batch
	cursor     int64 // the last seq looked at
	removed    []int64
	expired    []int64  // the removed entries that collect an expired document
	prevHashes []string // of the removed entries, as text: those that key a boundary
	boundaries []boundary
	bridges    []bridge // proof columns of entries before holes (compactbridges.go)
	self       string   // the author whose holes get no bridge (CompactionPolicy.Self)
	res        ports.CompactionResult
}

// boundary is a link_boundaries row to add: entry seq was removed and
// entry next, which chains from it, stays.
type boundary struct {
	hash      string
	link      []byte
	seq, next int64
}

// compactStmts are a pass's statements, prepared once for its batches
// (compiling them cost about as much as running them on a batch).
type compactStmts struct {
	scan, chain, before, digests, links, boundariesOf *sql.Stmt // on the read pool
	dropBoundaries, addBoundary, bridge, expired, del *sql.Stmt // on the writer
}

// prepare compiles the statements; wmu is held (the writer's connection is
// free).
func (c *compactStmts) prepare(ctx context.Context, reader, writer *sql.DB) error {
	for _, p := range []struct {
		dst **sql.Stmt
		db  *sql.DB
		sql string
	}{
		{&c.scan, reader, compactScan},
		{&c.chain, reader, compactChain},
		{&c.before, reader, compactBefore},
		{&c.digests, reader, compactDigests},
		{&c.links, reader, compactLinks},
		{&c.boundariesOf, reader, compactBoundariesOf},
		{&c.dropBoundaries, writer, compactDropBoundaries},
		{&c.addBoundary, writer, compactAddBoundary},
		{&c.bridge, writer, compactBridge},
		{&c.expired, writer, compactExpired},
		{&c.del, writer, compactDelete},
	} {
		st, err := p.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		*p.dst = st
	}
	return nil
}

func (c *compactStmts) close() {
	for _, st := range []*sql.Stmt{c.scan, c.chain, c.before, c.digests, c.links, c.boundariesOf, c.dropBoundaries, c.addBoundary,
		c.bridge, c.expired, c.del} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// compactPlan reads up to compactBatch rows after cursor, up to end, in
// one read transaction, and chooses what p removes among them, at most
// limit.
func (s *Store) compactPlan(ctx context.Context, st *compactStmts, p domain.CompactionPolicy, cursor, end int64, limit int) (compactPlan, error) {
	plan := compactPlan{cursor: cursor}
	tx, err := s.reader.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return plan, err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.StmtContext(ctx, st.scan).QueryContext(ctx, cursor, end, compactBatch)
	if err != nil {
		return plan, err
	}
	hashes := map[int64]string{}
	stamps := map[int64]domain.Timestamp{}
	spans := map[string]*stampSpan{}
	scanned := 0
	for !plan.more && rows.Next() {
		var e domain.Entry
		var size int64
		var dWall, dLogic sql.NullInt64
		var dNode sql.NullString
		if err := rows.Scan(&plan.cursor, &e.Stamp.Node, &e.Stamp.Wall, &e.Stamp.Logical, &e.Op, storedHash{&e.Hash}, &e.ExpiresAt, &size,
			&dWall, &dLogic, &dNode); err != nil {
			rows.Close()
			return plan, err
		}
		scanned++
		plan.more = scanned == compactBatch
		s.st.mu.RLock()
		h := s.st.heads[e.Stamp.Node]
		s.st.mu.RUnlock()
		doc := domain.Timestamp{Wall: dWall.Int64, Logical: int32(dLogic.Int64), Node: dNode.String}
		superseded := dWall.Valid && doc.After(e.Stamp)
		if !p.Removable(&e, h.hash == e.Hash, superseded) {
			continue
		}
		plan.removed = append(plan.removed, plan.cursor)
		hashes[plan.cursor] = e.Hash
		stamps[plan.cursor] = e.Stamp
		if sp := spans[e.Stamp.Node]; sp != nil {
			sp.add(e.Stamp.Wall, e.Stamp.Logical)
		} else {
			spans[e.Stamp.Node] = &stampSpan{e.Stamp.Wall, e.Stamp.Wall, e.Stamp.Logical, e.Stamp.Logical}
		}
		plan.res.EntriesRemoved++
		plan.res.BytesRemoved += size
		if !superseded {
			plan.res.TombstonesRemoved++
			if domain.CollectsExpired(&e) {
				plan.expired = append(plan.expired, plan.cursor)
			}
		}
		plan.more = plan.more || len(plan.removed) == limit
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(plan.removed) == 0 {
		return plan, err
	}
	plan.self = p.Self
	return plan, s.planBoundaries(ctx, tx, st, &plan, removedRows{hashes, stamps}, spans)
}

// compactApply writes plan: the boundaries first (they read the rows the
// delete removes), the bridges, then the markers of collected expired
// documents.
func (t *writeTx) compactApply(st *compactStmts, plan *compactPlan) error {
	seqs, err := json.Marshal(plan.removed)
	if err != nil {
		return err
	}
	if len(plan.prevHashes) > 0 {
		prev, err := json.Marshal(plan.prevHashes)
		if err != nil {
			return err
		}
		if _, err := t.tx.StmtContext(t.ctx, st.dropBoundaries).ExecContext(t.ctx, string(prev)); err != nil {
			return err
		}
	}
	if len(plan.boundaries) > 0 {
		add := t.tx.StmtContext(t.ctx, st.addBoundary)
		for _, b := range plan.boundaries {
			if _, err := add.ExecContext(t.ctx, b.hash, b.link, b.seq, b.next); err != nil {
				return err
			}
		}
	}
	if len(plan.bridges) > 0 {
		write := t.tx.StmtContext(t.ctx, st.bridge)
		for _, b := range plan.bridges {
			if _, err := write.ExecContext(t.ctx, b.seq, nullBytes(b.value), nullBytes(b.old)); err != nil {
				return err
			}
		}
	}
	if len(plan.expired) > 0 {
		expired, err := json.Marshal(plan.expired)
		if err != nil {
			return err
		}
		if _, err := t.tx.StmtContext(t.ctx, st.expired).ExecContext(t.ctx, string(expired)); err != nil {
			return err
		}
	}
	_, err = t.tx.StmtContext(t.ctx, st.del).ExecContext(t.ctx, string(seqs))
	return err
}

// pauseForWriters is yieldToWriters; tests count the pauses through it.
var pauseForWriters = yieldToWriters

// yieldToWriters lets the writers queued behind a maintenance step in: for
// as long as the step took, the writer lock is theirs (a mutex handed
// straight back would let the next step jump the queue).
func yieldToWriters(ctx context.Context, held time.Duration) {
	pause := time.NewTimer(held)
	defer pause.Stop()
	select {
	case <-ctx.Done():
	case <-pause.C:
	}
}

// boundaryLink is the link kept for a compacted entry (found false: the
// hash names no hole).
func (s *Store) boundaryLink(ctx context.Context, hash string) (link []byte, found bool, err error) {
	err = s.reader.DB.QueryRowContext(ctx, `SELECT link FROM link_boundaries WHERE hash = ?`, hash).Scan(&link)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return link, err == nil, err
}

// acrossHole reports whether one of entries follows a compacted entry.
func (s *Store) acrossHole(ctx context.Context, entries []domain.Entry) (bool, error) {
	if len(entries) == 0 {
		return false, nil
	}
	prev := make([]string, len(entries))
	for i := range entries {
		prev[i] = entries[i].PrevHash
	}
	raw, err := json.Marshal(prev)
	if err != nil {
		return false, err
	}
	var found bool
	err = s.reader.DB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM link_boundaries
		WHERE hash IN (SELECT value FROM json_each(?)))`, string(raw)).Scan(&found)
	return found, err
}

// StorageStats implements ports.StorageReporter: a count of the oplog and
// of deleted documents' rows (each a scan: for status, not hot paths) and
// the sizes of the database file and its WAL.
func (s *Store) StorageStats(ctx context.Context) (ports.StorageStats, error) {
	const op = "sqlite.StorageStats"
	var st ports.StorageStats
	err := s.reader.DB.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM oplog),
		(SELECT count(*) FROM documents WHERE deleted = 1)`).Scan(&st.OplogEntries, &st.Tombstones)
	if err != nil {
		return st, mapErr(op, err)
	}
	st.DiskBytes = fileSize(s.opts.Path) + fileSize(s.opts.Path+"-wal")
	return st, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
