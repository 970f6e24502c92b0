package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/entgldb/entgldb-go/domain"
)

// stmts are the hot-path statements, prepared once. Writer statements are
// bound to a transaction with tx.StmtContext, which reuses the prepared
// statement because the writer pool has a single connection.
type stmts struct {
	getDocW      *sql.Stmt
	upsertDoc    *sql.Stmt
	insertOplog  *sql.Stmt
	insertIgnore *sql.Stmt
	keyEntries   *sql.Stmt

	getDoc *sql.Stmt

	vclock, setMeta, upsertOplog *sql.Stmt
	upsertOplogQuiet             *sql.Stmt // upsertOplog without RETURNING
	maxSeq, seqRange             *sql.Stmt

	// Multi-row statements for ApplyRemote and ApplySnapshot, prepared
	// on first use (prepareRows).
	multiMu                  sync.Mutex
	insOplogRows, upsertRows rowsStmt
	materializeRows          rowsStmt // upsertRows without RETURNING

	// docIndexed: the oplog index on (collection, key) exists. Only
	// replays read by key, so it is created by the first one.
	docIndexed atomic.Bool
}

const entryCols = `seq, collection, key, op, data, wall, logic, node, hash, prev_hash`

// upsertFromOplogSQL copies the oplog entries from a seq on into documents;
// a tail adds the last-write-wins rule (docNewerTail) and maybe RETURNING.
const upsertFromOplogSQL = `INSERT INTO documents (collection, key, data, wall, logic, node, deleted)
	SELECT collection, key, CASE WHEN op = 0 THEN data END, wall, logic, node, op = 1
	FROM oplog WHERE seq >= ? ORDER BY seq`

func (p *stmts) prepare(ctx context.Context, w, r *sql.DB) error {
	const oplogInsert = ` INTO oplog (collection, key, op, data, wall, logic, node, hash, prev_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	list := []struct {
		dst *(*sql.Stmt)
		db  *sql.DB
		sql string
	}{
		{&p.getDocW, w, `SELECT data, wall, logic, node, deleted FROM documents WHERE collection = ? AND key = ?`},
		{&p.upsertDoc, w, `INSERT INTO documents (collection, key, data, wall, logic, node, deleted)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (collection, key) DO UPDATE SET data = excluded.data, wall = excluded.wall,
				logic = excluded.logic, node = excluded.node, deleted = excluded.deleted`},
		{&p.insertOplog, w, `INSERT` + oplogInsert},
		{&p.insertIgnore, w, `INSERT OR IGNORE` + oplogInsert},
		{&p.keyEntries, w, `SELECT ` + entryCols + ` FROM oplog WHERE collection = ? AND key = ?`},
		{&p.getDoc, r, `SELECT data, wall, logic, node, deleted FROM documents WHERE collection = ? AND key = ?`},
		{&p.setMeta, w, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`},
		// Last-write-wins for the entries just appended to the oplog: a
		// row changes only for a strictly greater stamp (byte order on
		// node, like Go).
		{&p.upsertOplog, w, upsertFromOplogSQL + docRowsTail},
		{&p.upsertOplogQuiet, w, upsertFromOplogSQL + docNewerTail},
		{&p.maxSeq, w, `SELECT coalesce(max(seq), 0) FROM oplog`},
		{&p.seqRange, w, `SELECT seq FROM oplog WHERE seq BETWEEN ? AND ?`},
		// An author's clock and head only move forward.
		{&p.vclock, w, `INSERT INTO vclock (author, wall, logic, hash) VALUES (?, ?, ?, ?)
			ON CONFLICT (author) DO UPDATE SET wall = excluded.wall, logic = excluded.logic, hash = excluded.hash
			WHERE (excluded.wall, excluded.logic) > (vclock.wall, vclock.logic)`},
	}
	for _, s := range list {
		st, err := s.db.PrepareContext(ctx, s.sql)
		if err != nil {
			return err
		}
		*s.dst = st
	}
	return nil
}

func (p *stmts) close() {
	for _, st := range []*sql.Stmt{p.getDocW, p.upsertDoc, p.insertOplog, p.insertIgnore, p.keyEntries, p.getDoc, p.vclock, p.setMeta, p.upsertOplog, p.upsertOplogQuiet, p.maxSeq, p.seqRange} {
		if st != nil {
			_ = st.Close()
		}
	}
	p.insOplogRows.close()
	p.upsertRows.close()
	p.materializeRows.close()
}

// txStmts are the writer statements bound to one transaction.
type txStmts struct {
	ctx                                 context.Context
	tx                                  *sql.Tx
	p                                   *stmts
	getDoc, upsertDoc, insOplog, insIgn *sql.Stmt
	keyEntries, vclock                  *sql.Stmt
	setMeta, upsertOplog                *sql.Stmt
	upsertOplogQuiet                    *sql.Stmt
	maxSeqSt, seqRangeSt                *sql.Stmt

	// What the transaction does to the in-memory state once it commits
	// (pending.go).
	st           *state
	newHeads     map[string]head
	sealed       map[string]string // author → hash of this transaction's last local write
	maxSeq       int64
	addPending   []domain.Document
	materialized bool // the pending documents were written
	persisted    bool // the clock and the materialized mark were written
	// createdDocIndex: this transaction created the oplog (collection,
	// key) index; stmts.docIndexed is set once it commits.
	createdDocIndex bool
}

func (p *stmts) bind(ctx context.Context, tx *sql.Tx, st *state) *txStmts {
	return &txStmts{ctx: ctx, tx: tx, p: p, st: st}
}

// stmt binds lazily: most transactions use only some of the statements.
func (t *txStmts) stmt(slot **sql.Stmt, s *sql.Stmt) *sql.Stmt {
	if *slot == nil {
		*slot = t.tx.StmtContext(t.ctx, s)
	}
	return *slot
}

// loadDoc returns the stored document (tombstones included) or nil.
func (t *txStmts) loadDoc(collection, key string) (*domain.Document, error) {
	st := t.stmt(&t.getDoc, t.p.getDocW)
	var d domain.Document
	var data sql.NullString
	err := st.QueryRowContext(t.ctx, collection, key).Scan(&data, &d.Stamp.Wall, &d.Stamp.Logical, &d.Stamp.Node, &d.Deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d.Collection, d.Key = collection, key
	if data.Valid {
		d.Data = []byte(data.String)
	}
	return &d, nil
}

// queryCache keeps prepared Find/Count statements by SQL text: query shapes
// repeat, and compiling one costs more than running it on an index. It
// never evicts (a statement in use must not be closed under its caller);
// once full, further shapes run unprepared.
type queryCache struct {
	mu     sync.Mutex
	db     *sql.DB
	max    int
	m      map[string]*sql.Stmt
	closed bool
}

func (c *queryCache) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// stmt returns the statement prepared for query, nil once the cache is full.
func (c *queryCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[query]
	full := c.closed || len(c.m) >= c.max
	c.mu.Unlock()
	if ok || full {
		return st, nil
	}
	prepared, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, raced := c.m[query]; raced || c.closed {
		_ = prepared.Close()
		return prev, nil
	}
	c.m[query] = prepared
	return prepared, nil
}

func (c *queryCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m = nil
}
