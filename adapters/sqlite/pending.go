package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"sync"

	"github.com/entgldb/entgldb-go/domain"
	"go.uber.org/zap"
)

// A local write under last-write-wins is durable once its oplog entry is
// committed: the entry holds everything its document needs. So such a Commit
// writes the oplog row alone, and the documents table catches up later in
// one multi-row upsert for many writes ("materializing"): before any read of
// the table that could see the difference (Find, Count, Collections,
// snapshots, backups), before every other kind of write, when enough writes
// are pending, and at close. Meanwhile Get answers from the pending set.
// The per-author heads and vector clock live in memory the same way; the
// vclock table is brought up to date with the documents.
//
// Crash safety: meta.materialized_seq is the greatest seq whose effects are
// all in the documents and vclock tables. Every entry after it is a local
// last-write-wins write (every other write materializes first and moves the
// mark in its own transaction), so Open replays them with the same
// order-independent upsert.

const (
	metaMaterializedSeq = "materialized_seq"
	// pendingMaxDocs and pendingMaxBytes bound the pending set: the write
	// that reaches either materializes, so a crash replays little at
	// Open and the set's memory stays small.
	pendingMaxDocs  = 256
	pendingMaxBytes = 1 << 20
)

type head struct {
	wall  int64
	logic int32
	hash  string
}

func (h head) before(wall int64, logic int32) bool {
	return h.wall < wall || h.wall == wall && h.logic < logic
}

// state is what the store keeps in memory beside the file. Writers change it
// only while holding wmu, after their transaction committed; readers take
// mu.
type state struct {
	// wmu serializes the write transactions that touch the oplog,
	// documents or clock, with the in-memory updates after each commit.
	wmu sync.Mutex

	mu           sync.RWMutex
	pending      map[docKey]domain.Document
	pendingBytes int
	heads        map[string]head
	dirty        map[string]bool // heads newer than their vclock row
	lastSeq      int64           // greatest seq committed
}

func (st *state) init() {
	st.pending = map[docKey]domain.Document{}
	st.heads = map[string]head{}
	st.dirty = map[string]bool{}
}

// effectiveHead is the author's newest head, this transaction's first.
func (t *txStmts) effectiveHead(author string) (head, bool) {
	if h, ok := t.newHeads[author]; ok {
		return h, true
	}
	t.st.mu.RLock()
	defer t.st.mu.RUnlock()
	h, ok := t.st.heads[author]
	return h, ok
}

// seal links e into its author's chain: after the author's head, or after
// this transaction's previous write of the author (write order, whatever
// the stamps).
func (t *txStmts) seal(e *domain.Entry) {
	a := e.Author()
	prev, ok := t.sealed[a]
	if !ok {
		h, _ := t.effectiveHead(a)
		prev = h.hash
	}
	e.Seal(prev)
	if t.sealed == nil {
		t.sealed = map[string]string{}
	}
	t.sealed[a] = e.Hash
}

// advanceClocks moves each author's head to its newest entry among entries
// (in the order they were stored), only ever forward: among entries with
// equal (wall, logical) the first stored stays the head. The move takes
// effect when the transaction commits.
func (t *txStmts) advanceClocks(entries []domain.Entry) {
	for i := range entries {
		e := &entries[i]
		h, ok := t.effectiveHead(e.Stamp.Node)
		if !ok || h.before(e.Stamp.Wall, e.Stamp.Logical) {
			if t.newHeads == nil {
				t.newHeads = map[string]head{}
			}
			t.newHeads[e.Stamp.Node] = head{e.Stamp.Wall, e.Stamp.Logical, e.Hash}
		}
		t.maxSeq = max(t.maxSeq, e.Seq)
	}
}

// materializePending writes the pending documents into the documents table
// (newer stamps win, so their order does not matter).
func (t *txStmts) materializePending() error {
	if t.materialized {
		return nil
	}
	t.materialized = true
	t.st.mu.RLock()
	docs := make([]domain.Entry, 0, len(t.st.pending))
	for _, d := range t.st.pending {
		e := domain.Entry{Collection: d.Collection, Key: d.Key, Data: d.Data, Stamp: d.Stamp}
		if d.Deleted {
			e.Op, e.Data = domain.OpDelete, nil
		}
		docs = append(docs, e)
	}
	t.st.mu.RUnlock()
	if len(docs) == 0 {
		return nil
	}
	return t.upsertDocs(docs)
}

// persistClock writes the heads that moved (in memory or in this
// transaction) to the vclock table and moves the materialized mark. Call it
// last, after materializePending and the transaction's own writes.
func (t *txStmts) persistClock() error {
	if err := t.materializePending(); err != nil {
		return err
	}
	t.st.mu.RLock()
	rows := map[string]head{}
	for a := range t.st.dirty {
		rows[a] = t.st.heads[a]
	}
	last := t.st.lastSeq
	t.st.mu.RUnlock()
	for a, h := range t.newHeads {
		rows[a] = h
	}
	for a, h := range rows {
		if _, err := t.stmt(&t.vclock, t.p.vclock).ExecContext(t.ctx, a, h.wall, h.logic, h.hash); err != nil {
			return err
		}
	}
	if _, err := t.stmt(&t.setMeta, t.p.setMeta).ExecContext(t.ctx, metaMaterializedSeq, strconv.FormatInt(max(last, t.maxSeq), 10)); err != nil {
		return err
	}
	t.persisted = true
	return nil
}

// afterCommit applies a committed transaction to the in-memory state (wmu
// is held).
func (t *txStmts) afterCommit() {
	st := t.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if t.materialized {
		clear(st.pending)
		st.pendingBytes = 0
	}
	if t.persisted {
		clear(st.dirty)
	}
	for a, h := range t.newHeads {
		if cur, ok := st.heads[a]; !ok || cur.before(h.wall, h.logic) {
			st.heads[a] = h
			if !t.persisted {
				st.dirty[a] = true
			}
		}
	}
	for _, d := range t.addPending {
		addPendingLocked(st, d)
	}
	st.lastSeq = max(st.lastSeq, t.maxSeq)
}

// addPendingLocked keeps the newest document per key.
func addPendingLocked(st *state, d domain.Document) {
	k := docKey{d.Collection, d.Key}
	if cur, ok := st.pending[k]; ok {
		if !d.Stamp.After(cur.Stamp) {
			return
		}
		st.pendingBytes -= len(cur.Data)
	}
	st.pending[k] = d
	st.pendingBytes += len(d.Data)
}

func (st *state) pendingFull() bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.pending) >= pendingMaxDocs || st.pendingBytes >= pendingMaxBytes
}

func (st *state) hasPending() bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.pending) > 0 || len(st.dirty) > 0
}

// pendingDocument returns the pending document of a key.
func (st *state) pendingDocument(collection, key string) (domain.Document, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	d, ok := st.pending[docKey{collection, key}]
	return d, ok
}

// flush materializes the pending documents and the clock.
func (s *Store) flush(ctx context.Context) error {
	if !s.st.hasPending() {
		return nil
	}
	return s.writeTx(ctx, "sqlite.flush", func(t *txStmts) error { return t.persistClock() })
}

// flushAfterWrite materializes when the pending set is full. The write that
// triggered it is already committed, so a failure is logged, not returned:
// the documents stay pending and the next materialization retries.
func (s *Store) flushAfterWrite(ctx context.Context) {
	if !s.st.pendingFull() {
		return
	}
	if err := s.flush(ctx); err != nil {
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
	rows, err := db.QueryContext(ctx, `SELECT author, wall, logic, hash FROM vclock`)
	if err != nil {
		return mapErr(op, err)
	}
	for rows.Next() {
		var a string
		var h head
		if err := rows.Scan(&a, &h.wall, &h.logic, &h.hash); err != nil {
			rows.Close()
			return mapErr(op, err)
		}
		st.heads[a] = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return mapErr(op, err)
	}
	var mark sql.NullString
	err = db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, metaMaterializedSeq).Scan(&mark)
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
	rows, err = db.QueryContext(ctx, `SELECT `+entryCols+` FROM oplog WHERE seq > ? ORDER BY seq`, from)
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
			st.heads[e.Stamp.Node] = head{e.Stamp.Wall, e.Stamp.Logical, e.Hash}
			st.dirty[e.Stamp.Node] = true
		}
		addPendingLocked(st, domain.DocumentFromEntry(e))
	}
	s.log.Info("replayed local writes not yet materialized", zap.Int("entries", len(replay)))
	return s.flush(ctx)
}
