package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math/bits"
	"strconv"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// maxRows bounds the rows of one multi-row statement: 512 rows of 9
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
	// (a fifth of a bulk apply). An entry the oplog already holds leaves
	// its seq unused: seq only grows, with gaps.
	oplogRowsHead = `INSERT INTO oplog (seq, collection, key, op, data, wall, logic, node, hash, prev_hash) VALUES `
	oplogRowsTail = ` ON CONFLICT DO NOTHING`
	docRowsHead   = `INSERT INTO documents (collection, key, data, wall, logic, node, deleted) VALUES `
	// The last-write-wins rule for many rows: a row changes only for a
	// strictly greater stamp (byte order on node, like Go), and RETURNING
	// names the rows that did.
	docNewerTail = ` ON CONFLICT (collection, key) DO UPDATE SET data = excluded.data, wall = excluded.wall,
		logic = excluded.logic, node = excluded.node, deleted = excluded.deleted
		WHERE (excluded.wall, excluded.logic, excluded.node) > (documents.wall, documents.logic, documents.node)`
	docRowsTail = docNewerTail + ` RETURNING collection, key`
)

// prepareRows prepares the multi-row statements a batch of n entries
// needs, the first time a batch that large comes (a large statement costs
// milliseconds to prepare). It must run outside a write transaction: the
// writer has one connection, which a transaction holds.
func (p *stmts) prepareRows(ctx context.Context, w *sql.DB, n int) error {
	p.multiMu.Lock()
	defer p.multiMu.Unlock()
	if p.insOplogRows.head == "" {
		// The JSON is bound as bytes (no copy into a Go string) and
		// stored as TEXT, which json_extract reads.
		p.insOplogRows = rowsStmt{head: oplogRowsHead, row: `(?,?,?,?,CAST(? AS TEXT),?,?,?,?,?)`, tail: oplogRowsTail}
		const docRow = `(?,?,?,?,?,?,?)`
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

// rowsArgs binds r for n rows; add appends row i's arguments (called for
// 0..n-1, then n-1 again as padding).
func (t *txStmts) rowsArgs(r *rowsStmt, n int, add func(args []any, i int) []any) (*sql.Stmt, []any, error) {
	size, slot := rowsSize(n)
	if r.bySize[slot] == nil {
		return nil, nil, errors.New("multi-row statement for " + strconv.Itoa(size) + " rows not prepared")
	}
	args := make([]any, 0, size*10)
	for i := range size {
		args = add(args, min(i, n-1))
	}
	return t.tx.StmtContext(t.ctx, r.bySize[slot]), args, nil
}

// rowsQuery runs r for n rows and returns what it returns.
func (t *txStmts) rowsQuery(r *rowsStmt, n int, add func(args []any, i int) []any) (*sql.Rows, error) {
	st, args, err := t.rowsArgs(r, n, add)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

// rowsExec runs r for n rows and returns how many rows it changed.
func (t *txStmts) rowsExec(r *rowsStmt, n int, add func(args []any, i int) []any) (int64, error) {
	st, args, err := t.rowsArgs(r, n, add)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(t.ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

type docKey struct{ collection, key string }

// applyLWW stores one batch under last-write-wins with a few multi-row
// statements: the oplog insert reports which entries are new, then only
// the newest new entry of each key competes with the stored document.
// That gives the same documents as applying the entries one by one, since
// last-write-wins keeps the greatest stamp whatever the order.
func (t *txStmts) applyLWW(batch []domain.Entry, part *ports.ApplyResult) error {
	if err := t.materializePending(); err != nil {
		return err
	}
	seqs, err := t.insertRows(batch)
	if err != nil {
		return err
	}
	for i := range batch {
		if seqs[i] == 0 {
			part.Skipped++
			continue
		}
		e := batch[i]
		e.Seq = seqs[i]
		part.Applied = append(part.Applied, e)
	}
	changed, err := t.upsertFromOplog(part.Applied, true)
	if err != nil {
		return err
	}
	part.Changed = changed
	t.advanceClocks(part.Applied)
	return t.persistClock()
}

// insertRows appends entries to the oplog in multi-row statements and
// returns each entry's seq, 0 for an entry the oplog already held. Entry i
// is offered seq base+1+i, base the greatest seq held, so the seqs in that
// range name the new entries; of identical entries in one call the first
// is inserted (rows go in VALUES order).
func (t *txStmts) insertRows(batch []domain.Entry) ([]int64, error) {
	var base int64
	if err := t.stmt(&t.maxSeqSt, t.p.maxSeq).QueryRowContext(t.ctx).Scan(&base); err != nil {
		return nil, err
	}
	seqs := make([]int64, len(batch)) // 0: already held
	for start := 0; start < len(batch); start += maxRows {
		chunk := batch[start:min(start+maxRows, len(batch))]
		first := base + 1 + int64(start)
		inserted, err := t.rowsExec(&t.p.insOplogRows, len(chunk), func(args []any, i int) []any {
			e := &chunk[i]
			// int64, not int or int32: database/sql converts other
			// integer types by reflection, per argument.
			return append(args, first+int64(i), e.Collection, e.Key, int64(e.Op), nullBytes(e.Data), e.Stamp.Wall, int64(e.Stamp.Logical), e.Stamp.Node, e.Hash, e.PrevHash)
		})
		if err != nil {
			return nil, err
		}
		if inserted == int64(len(chunk)) {
			for i := range chunk {
				seqs[start+i] = first + int64(i)
			}
			continue
		}
		if err := t.heldSeqs(first, seqs[start:start+len(chunk)]); err != nil {
			return nil, err
		}
	}
	return seqs, nil
}

// heldSeqs sets seqs[i] to first+i where the oplog holds that seq.
func (t *txStmts) heldSeqs(first int64, seqs []int64) error {
	rows, err := t.stmt(&t.seqRangeSt, t.p.seqRange).QueryContext(t.ctx, first, first+int64(len(seqs))-1)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return err
		}
		seqs[seq-first] = seq
	}
	return rows.Err()
}

// commitLWW stores local writes without preconditions under
// last-write-wins with multi-row statements: each author's entries are
// chained in write order, appended to the oplog, and the newest per key
// upserted. out receives the sealed entries.
func (t *txStmts) commitLWW(writes []ports.Write, out []domain.Entry) error {
	if err := t.materializePending(); err != nil {
		return err
	}
	for i := range writes {
		e := writes[i].Entry
		t.seal(&e)
		out[i] = e
	}
	seqs, err := t.insertRows(out)
	if err != nil {
		return err
	}
	for i := range out {
		if seqs[i] == 0 {
			return domain.Errorf(domain.CodePersistence, "sqlite.Commit", "%s/%s at %s is already in the oplog", out[i].Collection, out[i].Key, out[i].Stamp)
		}
		out[i].Seq = seqs[i]
	}
	if _, err := t.upsertFromOplog(out, false); err != nil {
		return err
	}
	t.advanceClocks(out)
	return t.persistClock()
}

// upsertFromOplog resolves entries just appended to the oplog (in this
// transaction, so they hold every seq from the smallest of theirs on)
// against the stored documents under last-write-wins: one statement copies
// them from the oplog, which spares binding every document a second time.
// A key's entries apply in seq order and each replaces the row only when
// strictly newer, so the row ends with the newest whatever that order.
// With wantChanged it returns the documents that changed.
func (t *txStmts) upsertFromOplog(entries []domain.Entry, wantChanged bool) ([]domain.Document, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	first := entries[0].Seq
	for i := range entries {
		first = min(first, entries[i].Seq)
	}
	if !wantChanged {
		_, err := t.stmt(&t.upsertOplogQuiet, t.p.upsertOplogQuiet).ExecContext(t.ctx, first)
		return nil, err
	}
	winners := newestPerKey(entries)
	if len(winners) == len(entries) {
		// One entry per key: if every row changed, all did, which the
		// change count shows without RETURNING (see oplogRowsHead).
		// Otherwise undo and ask RETURNING which.
		if docs, ok, err := t.upsertAllChanged(entries, first); ok || err != nil {
			return docs, err
		}
	}
	rows, err := t.stmt(&t.upsertOplog, t.p.upsertOplog).QueryContext(t.ctx, first)
	if err != nil {
		return nil, err
	}
	changed := map[docKey]bool{}
	if err := readKeys(rows, changed); err != nil {
		return nil, err
	}
	return changedDocs(entries, winners, changed), nil
}

// upsertAllChanged runs the upsert of entries (one per key, from seq first
// on) inside a savepoint and keeps it when it changed every row: then
// every entry's document changed. Otherwise it rolls back and reports
// ok false.
func (t *txStmts) upsertAllChanged(entries []domain.Entry, first int64) (docs []domain.Document, ok bool, err error) {
	if _, err := t.tx.ExecContext(t.ctx, "SAVEPOINT upsert"); err != nil {
		return nil, false, err
	}
	res, err := t.stmt(&t.upsertOplogQuiet, t.p.upsertOplogQuiet).ExecContext(t.ctx, first)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return nil, false, err
	}
	if n != int64(len(entries)) {
		if _, err := t.tx.ExecContext(t.ctx, "ROLLBACK TO upsert"); err != nil {
			return nil, false, err
		}
	}
	if _, err := t.tx.ExecContext(t.ctx, "RELEASE upsert"); err != nil {
		return nil, false, err
	}
	if n != int64(len(entries)) {
		return nil, false, nil
	}
	docs = make([]domain.Document, len(entries))
	for i := range entries {
		docs[i] = domain.DocumentFromEntry(&entries[i])
	}
	return docs, true, nil
}

// readKeys adds the (collection, key) rows to keys and closes rows.
func readKeys(rows *sql.Rows, keys map[docKey]bool) error {
	defer rows.Close()
	for rows.Next() {
		var k docKey
		if err := rows.Scan(&k.collection, &k.key); err != nil {
			return err
		}
		keys[k] = true
	}
	return rows.Err()
}

// newestPerKey returns, for each key, the index of its newest entry, in
// order of each key's first entry.
func newestPerKey(entries []domain.Entry) []int {
	newest := make(map[docKey]int, len(entries))
	winners := make([]int, 0, len(entries))
	for i := range entries {
		e := &entries[i]
		k := docKey{e.Collection, e.Key}
		j, ok := newest[k]
		switch {
		case !ok:
			newest[k] = len(winners)
			winners = append(winners, i)
		case e.Stamp.After(entries[winners[j]].Stamp):
			winners[j] = i
		}
	}
	return winners
}

func changedDocs(entries []domain.Entry, winners []int, changed map[docKey]bool) []domain.Document {
	var out []domain.Document
	for _, i := range winners {
		if e := &entries[i]; changed[docKey{e.Collection, e.Key}] {
			out = append(out, domain.DocumentFromEntry(e))
		}
	}
	return out
}

// upsertNewest resolves entries against the stored documents under
// last-write-wins: only the newest entry of each key competes, in one
// multi-row conditional upsert per maxRows keys. It returns the documents
// that changed, in order of each key's first entry.
func (t *txStmts) upsertNewest(entries []domain.Entry) ([]domain.Document, error) {
	winners := newestPerKey(entries)
	changed := make(map[docKey]bool, len(winners))
	for start := 0; start < len(winners); start += maxRows {
		chunk := winners[start:min(start+maxRows, len(winners))]
		rows, err := t.rowsQuery(&t.p.upsertRows, len(chunk), docArgs(func(i int) *domain.Entry { return &entries[chunk[i]] }))
		if err != nil {
			return nil, err
		}
		if err := readKeys(rows, changed); err != nil {
			return nil, err
		}
	}
	return changedDocs(entries, winners, changed), nil
}

// upsertDocs is upsertNewest for documents (one per key) when nobody asks
// what changed.
func (t *txStmts) upsertDocs(docs []domain.Entry) error {
	for start := 0; start < len(docs); start += maxRows {
		chunk := docs[start:min(start+maxRows, len(docs))]
		if _, err := t.rowsExec(&t.p.materializeRows, len(chunk), docArgs(func(i int) *domain.Entry { return &chunk[i] })); err != nil {
			return err
		}
	}
	return nil
}

// docArgs appends the document row of entry i.
func docArgs(entry func(i int) *domain.Entry) func(args []any, i int) []any {
	return func(args []any, i int) []any {
		d := domain.DocumentFromEntry(entry(i))
		return append(args, d.Collection, d.Key, nullText(d.Data), d.Stamp.Wall, int64(d.Stamp.Logical), d.Stamp.Node, int64(boolInt(d.Deleted)))
	}
}
