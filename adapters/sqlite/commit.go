package sqlite

import (
	"bytes"
	"context"
	"slices"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

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

// writeTx runs fn in one immediate transaction on the writer connection and,
// once it commits, applies what it did to the in-memory state (pending.go).
func (s *Store) writeTx(ctx context.Context, op string, fn func(t *txStmts) error) error {
	s.st.wmu.Lock()
	defer s.st.wmu.Unlock()
	return s.writeTxLocked(ctx, op, fn)
}

// writeTxLocked is writeTx for a caller holding wmu.
func (s *Store) writeTxLocked(ctx context.Context, op string, fn func(t *txStmts) error) error {
	if s.st.hasPending() {
		// Materializing takes multi-row statements, which cannot be
		// prepared once the transaction holds the only writer connection.
		if err := s.stmts.prepareRows(ctx, s.writer.DB, maxRows); err != nil {
			return mapErr(op, err)
		}
	}
	tx, err := s.writer.DB.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	t := s.stmts.bind(ctx, tx, &s.st)
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		return mapErr(op, err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr(op, err)
	}
	if t.createdDocIndex {
		s.stmts.docIndexed.Store(true)
	}
	t.afterCommit()
	return nil
}

func (t *txStmts) upsertDocument(d *domain.Document) error {
	_, err := t.stmt(&t.upsertDoc, t.p.upsertDoc).ExecContext(t.ctx,
		d.Collection, d.Key, nullText(d.Data), d.Stamp.Wall, d.Stamp.Logical, d.Stamp.Node, boolInt(d.Deleted))
	return err
}

func isLWW(r domain.Resolver) bool {
	switch r.(type) {
	case domain.LastWriteWins, *domain.LastWriteWins:
		return true
	}
	return false
}

func (t *txStmts) insertEntry(e *domain.Entry, ignore bool) (inserted bool, err error) {
	st := t.stmt(&t.insOplog, t.p.insertOplog)
	if ignore {
		st = t.stmt(&t.insIgn, t.p.insertIgnore)
	}
	res, err := st.ExecContext(t.ctx, e.Collection, e.Key, int(e.Op), nullText(e.Data),
		e.Stamp.Wall, e.Stamp.Logical, e.Stamp.Node, e.Hash, e.PrevHash)
	if err != nil {
		return false, err
	}
	if ignore {
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return false, err
		}
	}
	e.Seq, err = res.LastInsertId()
	return err == nil, err
}

// docIndexSQL indexes the oplog by document. Only replays (resolvers other
// than last-write-wins) read the oplog by key, so the index is built by the
// first replay rather than kept up to date by every write of a node that
// never replays.
const docIndexSQL = `CREATE INDEX IF NOT EXISTS oplog_doc ON oplog (collection, key)`

func (t *txStmts) entriesForKey(collection, key string) ([]domain.Entry, error) {
	if !t.p.docIndexed.Load() && !t.createdDocIndex {
		if _, err := t.tx.ExecContext(t.ctx, docIndexSQL); err != nil {
			return nil, err
		}
		t.createdDocIndex = true
	}
	rows, err := t.stmt(&t.keyEntries, t.p.keyEntries).QueryContext(t.ctx, collection, key)
	if err != nil {
		return nil, err
	}
	return scanEntries(rows)
}

// resolve applies e on top of cur with r, replaying the key's whole history
// when the resolver asks for it. held says whether e is already in the oplog.
func (t *txStmts) resolve(r domain.Resolver, cur *domain.Document, e *domain.Entry, held bool) (domain.Document, bool, error) {
	doc, outcome := r.Resolve(cur, e)
	switch outcome {
	case domain.Changed:
		return doc, true, nil
	case domain.NeedsReplay:
		hist, err := t.entriesForKey(e.Collection, e.Key)
		if err != nil {
			return domain.Document{}, false, err
		}
		if !held {
			hist = append(hist, *e)
		}
		out := domain.Replay(r, hist)
		if out == nil || (cur != nil && sameDoc(out, cur)) {
			return domain.Document{}, false, nil
		}
		return *out, true, nil
	}
	return domain.Document{}, false, nil
}

func sameDoc(a, b *domain.Document) bool {
	return a.Stamp == b.Stamp && a.Deleted == b.Deleted && string(a.Data) == string(b.Data)
}

func hasPrecondition(w ports.Write) bool { return w.MustExist || w.IfVersion != nil }

// Commit seals and stores local writes in one transaction: a failed
// precondition or any error leaves nothing written.
func (s *Store) Commit(ctx context.Context, r domain.Resolver, writes ...ports.Write) ([]domain.Entry, error) {
	const op = "sqlite.Commit"
	if len(writes) == 0 {
		return nil, nil
	}
	out := make([]domain.Entry, len(writes))
	lww := isLWW(r)
	if lww && len(writes) > 1 && !slices.ContainsFunc(writes, hasPrecondition) {
		// A batch: a few multi-row statements instead of three
		// statements per write.
		if err := s.stmts.prepareRows(ctx, s.writer.DB, len(writes)); err != nil {
			return nil, mapErr(op, err)
		}
		if err := s.writeTx(ctx, op, func(t *txStmts) error { return t.commitLWW(writes, out) }); err != nil {
			return nil, err
		}
		return out, nil
	}
	if lww && !slices.ContainsFunc(writes, hasPrecondition) {
		// The common write: the oplog entry alone, its document
		// materialized later with others (pending.go).
		err := s.writeTx(ctx, op, func(t *txStmts) error {
			e := writes[0].Entry
			t.seal(&e)
			if _, err := t.insertEntry(&e, false); err != nil {
				return err
			}
			out[0] = e
			d := domain.DocumentFromEntry(&e)
			d.Data = bytes.Clone(d.Data) // the caller may reuse its buffer
			t.addPending = append(t.addPending, d)
			t.advanceClocks(out)
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.flushAfterWrite(ctx)
		return out, nil
	}
	err := s.writeTx(ctx, op, func(t *txStmts) error {
		// Preconditions and resolvers read the documents table: bring it
		// up to date first.
		if err := t.materializePending(); err != nil {
			return err
		}
		for i := range writes {
			w := &writes[i]
			e := w.Entry
			cur, err := t.loadDoc(e.Collection, e.Key)
			if err != nil {
				return err
			}
			live := cur != nil && !cur.Deleted
			if w.MustExist && !live {
				return domain.Errorf(domain.CodeNotFound, op, "%s/%s does not exist", e.Collection, e.Key)
			}
			if w.IfVersion != nil {
				if w.IfVersion.IsZero() && live {
					return domain.Errorf(domain.CodeConflict, op, "%s/%s already exists (version %s)", e.Collection, e.Key, cur.Version())
				}
				if !w.IfVersion.IsZero() && (!live || cur.Stamp != *w.IfVersion) {
					have := "none"
					if live {
						have = cur.Version()
					}
					return domain.Errorf(domain.CodeConflict, op, "%s/%s is at version %s, not %s", e.Collection, e.Key, have, w.IfVersion)
				}
			}
			t.seal(&e)
			doc, changed, err := t.resolve(r, cur, &e, false)
			if err != nil {
				return err
			}
			if _, err := t.insertEntry(&e, false); err != nil {
				return err
			}
			if changed {
				if err := t.upsertDocument(&doc); err != nil {
					return err
				}
			}
			out[i] = e
		}
		t.advanceClocks(out)
		return t.persistClock()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyRemote stores peers' entries in transactions of at most BatchSize.
// Entries already held are skipped (the oplog's unique key makes re-delivery
// a no-op). Batches committed before an error stay committed; the result
// reports them.
func (s *Store) ApplyRemote(ctx context.Context, r domain.Resolver, entries []domain.Entry) (ports.ApplyResult, error) {
	const op = "sqlite.ApplyRemote"
	res := ports.ApplyResult{Applied: make([]domain.Entry, 0, len(entries))}
	changedAt := map[[2]string]int{} // one Changed document per key, its final state
	lww := isLWW(r)
	if lww && len(entries) > 0 {
		if err := s.stmts.prepareRows(ctx, s.writer.DB, min(len(entries), s.opts.BatchSize)); err != nil {
			return res, mapErr(op, err)
		}
	}
	for start := 0; start < len(entries); start += s.opts.BatchSize {
		batch := entries[start:min(start+s.opts.BatchSize, len(entries))]
		var part ports.ApplyResult
		err := s.writeTx(ctx, op, func(t *txStmts) error {
			// Applied fills res.Applied's spare capacity (it holds every
			// entry): no copy per batch.
			part = ports.ApplyResult{Applied: res.Applied[len(res.Applied):len(res.Applied)]}
			if lww {
				return t.applyLWW(batch, &part)
			}
			return t.applyEach(r, batch, &part)
		})
		if err != nil {
			return res, err
		}
		res.Applied = res.Applied[:len(res.Applied)+len(part.Applied)]
		res.Skipped += part.Skipped
		if lww && len(entries) <= s.opts.BatchSize {
			res.Changed = part.Changed // one batch, one document per key
			continue
		}
		for _, doc := range part.Changed {
			k := [2]string{doc.Collection, doc.Key}
			if j, ok := changedAt[k]; ok {
				res.Changed[j] = doc
			} else {
				changedAt[k] = len(res.Changed)
				res.Changed = append(res.Changed, doc)
			}
		}
	}
	return res, nil
}

// applyEach stores a batch one entry at a time, resolving each against the
// document as the previous entries left it (resolvers other than
// last-write-wins may depend on the order).
func (t *txStmts) applyEach(r domain.Resolver, batch []domain.Entry, part *ports.ApplyResult) error {
	if err := t.materializePending(); err != nil {
		return err
	}
	for i := range batch {
		e := batch[i]
		e.Seq = 0
		inserted, err := t.insertEntry(&e, true)
		if err != nil {
			return err
		}
		if !inserted {
			part.Skipped++
			continue
		}
		part.Applied = append(part.Applied, e)
		cur, err := t.loadDoc(e.Collection, e.Key)
		if err != nil {
			return err
		}
		doc, changed, err := t.resolve(r, cur, &e, true)
		if err != nil {
			return err
		}
		if changed {
			if err := t.upsertDocument(&doc); err != nil {
				return err
			}
			part.Changed = append(part.Changed, doc)
		}
	}
	t.advanceClocks(part.Applied)
	return t.persistClock()
}
