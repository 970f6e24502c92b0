package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/entgldb/entgldb-go/domain"
	"go.uber.org/zap"
)

// A local write under last-write-wins is durable once its oplog entry is
// committed: the entry holds everything its document needs. So such a Commit
// (commitOne) writes the oplog row alone, and the documents table catches up
// later in one multi-row upsert for many writes ("materializing"): when
// enough writes are pending, at the start of every other write transaction
// (Store.write), before every read of the table (read, below), and at close.
// The per-author heads and vector clock live in memory the same way; the
// vclock table is brought up to date with the documents.
//
// Crash safety: meta.materialized_seq is the greatest seq whose effects are
// all in the documents and vclock tables. Every entry after it is a local
// last-write-wins write (every other write materializes first and moves the
// mark in its own transaction), so Open replays them with the same
// order-independent upsert.

// read runs fn once the documents table holds every write committed before
// the call. Every reader of the documents table goes through it or
// readPinned (Find, Count, Collections, Snapshot), and so does every reader
// of the file as a whole (Backup, Checkpoint): a read that went around it
// would miss the pending documents. Get is the one exception: it reads the
// pending set beside the table (documents.go), so a point read never waits
// for a materialization. Reads of the oplog and of the in-memory heads need
// neither: a commit writes those at once.
func (s *Store) read(ctx context.Context, fn func() error) error {
	if err := s.materialize(ctx); err != nil {
		return err
	}
	return fn()
}

// readPinned is read for a reader that also copies the in-memory heads:
// fn runs with writers held off right after materializing, so what the read
// transaction it opens sees and what it copies agree. fn should only open
// the transaction (its first query fixes what it sees) and copy; it must
// not write.
func (s *Store) readPinned(ctx context.Context, fn func() error) error {
	s.st.wmu.Lock()
	defer s.st.wmu.Unlock()
	if err := s.materializeLocked(ctx); err != nil {
		return err
	}
	return fn()
}

// materialize writes the pending documents and the clock.
func (s *Store) materialize(ctx context.Context) error {
	if !s.st.hasPending() {
		return nil
	}
	return s.write(ctx, opMaterialize, nothing)
}

// materializeLocked is materialize for a caller holding wmu.
func (s *Store) materializeLocked(ctx context.Context) error {
	if !s.st.hasPending() {
		return nil
	}
	return s.writeLocked(ctx, opMaterialize, nothing)
}

const opMaterialize = "sqlite.flush"

// nothing is the write of a transaction that only materializes.
func nothing(*writeTx) error { return nil }

// flushAfterWrite materializes when the pending set is full. The write that
// triggered it is already committed, so a failure is logged, not returned:
// the documents stay pending and the next materialization retries.
func (s *Store) flushAfterWrite(ctx context.Context) {
	if !s.st.pendingFull() {
		return
	}
	if err := s.materialize(ctx); err != nil {
		s.log.Warn("materializing pending documents failed; will retry", zap.Error(err))
	}
}

// loadState reads the heads and the materialized mark, and replays the local
// writes committed after the mark (a crash before their materialization).
func (s *Store) loadState(ctx context.Context) error {
	const op = "sqlite.loadState"
	st := &s.st
	st.init()
	db := s.writer.DB
	if err := readHeads(ctx, db, st.heads); err != nil {
		return mapErr(op, err)
	}
	var mark sql.NullString
	err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, metaMaterializedSeq).Scan(&mark)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return mapErr(op, err)
	}
	var from int64
	if mark.Valid {
		if from, err = strconv.ParseInt(mark.String, 10, 64); err != nil {
			return domain.Errorf(domain.CodeCorruption, op, "meta %s is %q, not a number", metaMaterializedSeq, mark.String)
		}
	}
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM oplog`).Scan(&st.lastSeq); err != nil {
		return mapErr(op, err)
	}
	rows, err := db.QueryContext(ctx, `SELECT `+entryCols+` FROM oplog WHERE seq > ? ORDER BY seq`, from)
	if err != nil {
		return mapErr(op, err)
	}
	replay, err := scanEntries(rows)
	if err != nil {
		return mapErr(op, err)
	}
	if len(replay) == 0 {
		return nil
	}
	for i := range replay {
		e := &replay[i]
		if h, ok := st.heads[e.Stamp.Node]; !ok || h.before(e.Stamp.Wall, e.Stamp.Logical) {
			st.heads[e.Stamp.Node] = head{wall: e.Stamp.Wall, logic: e.Stamp.Logical, hash: e.Hash, link: e.Link, linkKnown: true}
			st.dirty[e.Stamp.Node] = true
		}
		addPendingLocked(st, domain.DocumentFromEntry(e))
	}
	s.log.Info("replayed local writes not yet materialized", zap.Int("entries", len(replay)))
	return s.materialize(ctx)
}

// readHeads reads the vector clock's rows into heads.
func readHeads(ctx context.Context, db interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, heads map[string]head) error {
	rows, err := db.QueryContext(ctx, `SELECT author, wall, logic, hash FROM vclock`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		var h head
		if err := rows.Scan(&a, &h.wall, &h.logic, &h.hash); err != nil {
			return err
		}
		heads[a] = h
	}
	return rows.Err()
}
