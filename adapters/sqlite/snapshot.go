package sqlite

import (
	"context"
	"database/sql"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Snapshot exports every document (tombstones included), the heads and the
// vector clock, read in one transaction so they agree with each other.
func (s *Store) Snapshot(ctx context.Context) (domain.Snapshot, error) {
	const op = "sqlite.Snapshot"
	snap := domain.Snapshot{Documents: []domain.Document{}, Heads: map[string]string{}, VectorClock: map[string]domain.Timestamp{}}
	// The documents and the heads must agree: the read transaction starts
	// and the heads are copied before another write can come.
	var tx *sql.Tx
	var rows *sql.Rows
	err := s.readPinned(ctx, func() error {
		var err error
		if tx, rows, err = s.snapshotBegin(ctx); err != nil {
			return err
		}
		s.st.mu.RLock()
		defer s.st.mu.RUnlock()
		for a, h := range s.st.heads {
			snap.VectorClock[a] = domain.Timestamp{Wall: h.wall, Logical: h.logic, Node: a}
			snap.Heads[a] = h.hash
		}
		return nil
	})
	if err != nil {
		return snap, mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	for rows.Next() {
		var d domain.Document
		var data sql.NullString
		if err := rows.Scan(&d.Collection, &d.Key, &data, &d.Stamp.Wall, &d.Stamp.Logical, &d.Stamp.Node, &d.Deleted, &d.ExpiresAt); err != nil {
			rows.Close()
			return snap, mapErr(op, err)
		}
		if data.Valid {
			d.Data = []byte(data.String)
		}
		snap.Documents = append(snap.Documents, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return snap, mapErr(op, err)
	}
	return snap, nil
}

// snapshotBegin opens the read transaction with its first query, which
// fixes what the transaction sees.
func (s *Store) snapshotBegin(ctx context.Context) (*sql.Tx, *sql.Rows, error) {
	tx, err := s.reader.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	// A read fixes what a WAL read transaction sees.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM documents`).Scan(&n); err != nil {
		_ = tx.Rollback()
		return nil, nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT collection, key, data, wall, logic, node, deleted, expires_at FROM documents ORDER BY collection, key`)
	if err != nil {
		_ = tx.Rollback()
		return nil, nil, err
	}
	return tx, rows, nil
}

// ApplySnapshot merges a peer's snapshot in one transaction: each document
// is resolved like a remote entry (but not added to the oplog, whose history
// the snapshot does not carry), and for every author the snapshot is ahead
// on, the clock and head advance and the head becomes a chain boundary, so
// the author's later entries chain on from it.
func (s *Store) ApplySnapshot(ctx context.Context, r domain.Resolver, snap domain.Snapshot) (ports.ApplyResult, error) {
	const op = "sqlite.ApplySnapshot"
	var res ports.ApplyResult
	lww := isLWW(r)
	if lww && len(snap.Documents) > 0 {
		if err := s.stmts.prepareRows(ctx, s.writer.DB, len(snap.Documents)); err != nil {
			return res, mapErr(op, err)
		}
	}
	err := s.write(ctx, op, func(t *writeTx) error {
		res = ports.ApplyResult{}
		entries := make([]domain.Entry, len(snap.Documents))
		for i := range snap.Documents {
			entries[i] = domain.EntryFromDocument(&snap.Documents[i])
		}
		changed, err := t.resolveDocuments(r, lww, entries)
		if err != nil {
			return err
		}
		res.Changed = changed
		for author, ts := range snap.VectorClock {
			if h, ok := t.effectiveHead(author); ok && !h.before(ts.Wall, ts.Logical) {
				continue // we already held this author's history up to there
			}
			hash := snap.Heads[author]
			if t.newHeads == nil {
				t.newHeads = map[string]head{}
			}
			t.newHeads[author] = head{wall: ts.Wall, logic: ts.Logical, hash: hash}
			if _, err := t.tx.ExecContext(ctx, `INSERT INTO pruned (author, wall, logic, hash) VALUES (?, ?, ?, ?)
				ON CONFLICT (author) DO UPDATE SET wall = excluded.wall, logic = excluded.logic, hash = excluded.hash
				WHERE (excluded.wall, excluded.logic) > (pruned.wall, pruned.logic)`, author, ts.Wall, ts.Logical, hash); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ports.ApplyResult{}, err
	}
	return res, nil
}

// resolveDocuments resolves documents that come without an oplog entry (a
// snapshot's, a collected delete's marker) against the stored ones, as
// entries would be, and returns those that changed.
func (t *writeTx) resolveDocuments(r domain.Resolver, lww bool, entries []domain.Entry) ([]domain.Document, error) {
	if lww {
		// They compete like entries; no replay, so many at a time.
		return t.upsertWinners(entries, nil, true)
	}
	var out []domain.Document
	for i := range entries {
		doc, changed, err := t.resolveStored(r, &entries[i], false)
		if err != nil {
			return nil, err
		}
		if changed {
			out = append(out, doc)
		}
	}
	return out, nil
}
