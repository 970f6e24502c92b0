package sqlite

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"
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

	vclock, setMeta  *sql.Stmt
	maxSeq, seqRange *sql.Stmt
	headLink         *sql.Stmt

	// Multi-row statements for ApplyRemote and ApplySnapshot, prepared
	// on first use (prepareRows).
	multiMu                  sync.Mutex
	insOplogRows, upsertRows rowsStmt
	materializeRows          rowsStmt // upsertRows without RETURNING

	// docIndexed: the oplog index on (collection, key) exists. Only
	// replays read by key, so it is created by the first one.
	docIndexed atomic.Bool
}

// entryCols reads an entry from a query on the oplog (unaliased: entryData
// names it).
const entryCols = `seq, collection, key, op, ` + entryData + `, wall, logic, node, hash, ` + entryPrevHash + `, link, proof, legacy, expires_at`

func (p *stmts) prepare(ctx context.Context, w, r *sql.DB) error {
	const oplogInsert = ` INTO oplog (collection, key, op, data, wall, logic, node, hash, prev_hash, link, proof, legacy, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	list := []struct {
		dst *(*sql.Stmt)
		db  *sql.DB
		sql string
	}{
		{&p.getDocW, w, `SELECT data, wall, logic, node, deleted, expires_at FROM documents WHERE collection = ? AND key = ?`},
		{&p.upsertDoc, w, `INSERT INTO documents (collection, key, data, wall, logic, node, deleted, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (collection, key) DO UPDATE SET data = excluded.data, wall = excluded.wall,
				logic = excluded.logic, node = excluded.node, deleted = excluded.deleted, expires_at = excluded.expires_at`},
		{&p.insertOplog, w, `INSERT` + oplogInsert},
		{&p.insertIgnore, w, `INSERT OR IGNORE` + oplogInsert},
		{&p.keyEntries, w, `SELECT ` + entryCols + ` FROM oplog WHERE collection = ? AND key = ?`},
		{&p.getDoc, r, `SELECT data, wall, logic, node, deleted, expires_at FROM documents WHERE collection = ? AND key = ?`},
		{&p.setMeta, w, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`},
		{&p.maxSeq, w, `SELECT coalesce(max(seq), 0) FROM oplog`},
		{&p.seqRange, w, `SELECT seq FROM oplog WHERE seq BETWEEN ? AND ?`},
		// The link a local commit chains from (writeTx.headLink), by the
		// unique key's prefix.
		{&p.headLink, w, `SELECT link FROM oplog WHERE node = ? AND wall = ? AND logic = ? AND hash = ? LIMIT 1`},
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
	for _, st := range []*sql.Stmt{p.getDocW, p.upsertDoc, p.insertOplog, p.insertIgnore, p.keyEntries, p.getDoc, p.vclock, p.setMeta, p.maxSeq, p.seqRange, p.headLink} {
		if st != nil {
			_ = st.Close()
		}
	}
	p.insOplogRows.close()
	p.upsertRows.close()
	p.materializeRows.close()
}

// nullText stores JSON as TEXT (json_extract cannot read BLOBs); an empty
// body (a delete) is NULL.
func nullText(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// nullBytes is nullText for statements that CAST the value to TEXT: the
// bytes are bound as they are, without a copy into a string.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// maxRows bounds the rows of one multi-row statement: 512 rows of 14
// parameters stay far below SQLite's 32,766 variables, and a 1,000-entry
// batch needs two statements instead of two thousand.
const (
	maxRowsLog = 9
	maxRows    = 1 << maxRowsLog
)

// rowsStmt is one multi-row statement (head, then row repeated, then tail),
// prepared once for each power-of-two row count up to maxRows. A shorter
// list is padded by repeating its last row, so ten statements cover every
// size. Padding is safe because both multi-row statements ignore a repeated
// row: the oplog insert skips a duplicate key, and the document upsert
// changes a row only for a strictly newer stamp.
type rowsStmt struct {
	head, row, tail string
	bySize          [maxRowsLog + 1]*sql.Stmt
}

// rowsSize is the statement row count for n rows (the next power of two) and
// its slot in bySize.
func rowsSize(n int) (rows, slot int) {
	slot = bits.Len(uint(n - 1))
	return 1 << slot, slot
}

// prepare prepares the statements for up to n rows.
func (r *rowsStmt) prepare(ctx context.Context, db *sql.DB, n int) error {
	_, top := rowsSize(min(n, maxRows))
	for slot := 0; slot <= top; slot++ {
		if r.bySize[slot] != nil {
			continue
		}
		var sb strings.Builder
		sb.WriteString(r.head)
		for i := range 1 << slot {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(r.row)
		}
		sb.WriteString(r.tail)
		st, err := db.PrepareContext(ctx, sb.String())
		if err != nil {
			return err
		}
		r.bySize[slot] = st
	}
	return nil
}

func (r *rowsStmt) close() {
	for _, st := range r.bySize {
		if st != nil {
			_ = st.Close()
		}
	}
}

const (
	// The oplog rows carry their seq (the batch's index past the greatest
	// seq held), so which entries were new shows without RETURNING, which
	// costs SQLite a trigger program and a temporary table per statement
	// (BENCHMARKS.md, third pass). An entry the oplog already holds leaves
	// its seq unused: seq only grows, with gaps.
	oplogRowsHead = `INSERT INTO oplog (seq, collection, key, op, data, wall, logic, node, hash, prev_hash, link, proof, legacy, expires_at) VALUES `
	oplogRowsTail = ` ON CONFLICT DO NOTHING`
	docRowsHead   = `INSERT INTO documents (collection, key, data, wall, logic, node, deleted, expires_at) VALUES `
	// The last-write-wins rule for many rows: a row changes only for a
	// strictly greater stamp (byte order on node, like Go); docRowsTail
	// adds RETURNING to name the rows that did.
	docNewerTail = ` ON CONFLICT (collection, key) DO UPDATE SET data = excluded.data, wall = excluded.wall,
		logic = excluded.logic, node = excluded.node, deleted = excluded.deleted, expires_at = excluded.expires_at
		WHERE (excluded.wall, excluded.logic, excluded.node) > (documents.wall, documents.logic, documents.node)`
	docRowsTail = docNewerTail + ` RETURNING collection, key`
)

// prepareRows prepares the multi-row statements a batch of n entries
// needs, the first time a batch that large comes (a large statement is
// slow to prepare). It must run outside a write transaction: the writer has
// one connection, which a transaction holds.
func (p *stmts) prepareRows(ctx context.Context, w *sql.DB, n int) error {
	p.multiMu.Lock()
	defer p.multiMu.Unlock()
	if p.insOplogRows.head == "" {
		// The JSON is bound as bytes (no copy into a Go string) and
		// stored as TEXT, which json_extract reads.
		p.insOplogRows = rowsStmt{head: oplogRowsHead, row: `(?,?,?,?,CAST(? AS TEXT),?,?,?,?,?,?,?,?,?)`, tail: oplogRowsTail}
		const docRow = `(?,?,?,?,?,?,?,?)`
		p.upsertRows = rowsStmt{head: docRowsHead, row: docRow, tail: docRowsTail}
		p.materializeRows = rowsStmt{head: docRowsHead, row: docRow, tail: docNewerTail}
	}
	for _, r := range []*rowsStmt{&p.insOplogRows, &p.upsertRows, &p.materializeRows} {
		if err := r.prepare(ctx, w, n); err != nil {
			return err
		}
	}
	return nil
}

// scanEntry reads a row of entryCols.
func scanEntry(rows *sql.Rows, more ...any) (domain.Entry, error) {
	var e domain.Entry
	var op int
	var data sql.NullString
	var proof []byte
	err := rows.Scan(append([]any{&e.Seq, &e.Collection, &e.Key, &op, &data, &e.Stamp.Wall, &e.Stamp.Logical, &e.Stamp.Node, storedHash{&e.Hash}, storedHash{&e.PrevHash},
		&e.Link, &proof, &e.Legacy, &e.ExpiresAt}, more...)...)
	if err != nil {
		return e, err
	}
	e.Op = domain.Op(op)
	if data.Valid {
		e.Data = []byte(data.String)
	}
	e.Proof, err = decodeProof(proof)
	return e, err
}

// scanEntries reads every row and closes rows.
func scanEntries(rows *sql.Rows) ([]domain.Entry, error) {
	defer rows.Close()
	var out []domain.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
