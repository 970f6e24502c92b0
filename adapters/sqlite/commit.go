package sqlite

import (
	"bytes"
	"context"
	"slices"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

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
