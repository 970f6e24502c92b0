package sqlite

import (
	"bytes"
	"context"
	"slices"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Commit seals and stores local writes in one transaction: a failed
// precondition or any error leaves nothing written. It picks one of three
// strategies, which store the same rows.
func (s *Store) Commit(ctx context.Context, r domain.Resolver, writes ...ports.Write) ([]domain.Entry, error) {
	switch {
	case len(writes) == 0:
		return nil, nil
	case !isLWW(r) || slices.ContainsFunc(writes, hasPrecondition):
		return s.commitChecked(ctx, r, writes)
	case len(writes) == 1:
		return s.commitOne(ctx, writes[0])
	default:
		return s.commitBatch(ctx, writes)
	}
}

const opCommit = "sqlite.Commit"

func hasPrecondition(w ports.Write) bool { return w.MustExist || w.IfVersion != nil }

// commitOne is the common write, one last-write-wins document without a
// precondition: the oplog entry alone, since it holds everything the
// document needs; the document waits in the pending set and reaches the
// documents table later with others (pending.go).
func (s *Store) commitOne(ctx context.Context, w ports.Write) ([]domain.Entry, error) {
	out := make([]domain.Entry, 1)
	err := s.writeKeepPending(ctx, opCommit, func(t *writeTx) error {
		e := w.Entry
		if err := t.seal(&e); err != nil {
			return err
		}
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

// commitBatch stores many last-write-wins writes without preconditions
// with a few multi-row statements instead of three statements per write:
// each author's entries are chained in write order, appended to the oplog
// (the newest per key without its data, which its row holds), and the
// newest per key upserted.
func (s *Store) commitBatch(ctx context.Context, writes []ports.Write) ([]domain.Entry, error) {
	if err := s.stmts.prepareRows(ctx, s.writer.DB, len(writes)); err != nil {
		return nil, mapErr(opCommit, err)
	}
	out := make([]domain.Entry, len(writes))
	err := s.write(ctx, opCommit, func(t *writeTx) error {
		for i := range writes {
			e := writes[i].Entry
			if err := t.seal(&e); err != nil {
				return err
			}
			out[i] = e
		}
		bare := bareWinners(out)
		seqs, err := t.insertRows(out, bare)
		if err != nil {
			return err
		}
		for i := range out {
			if seqs[i] == 0 {
				return domain.Errorf(domain.CodePersistence, opCommit, "%s/%s at %s is already in the oplog", out[i].Collection, out[i].Key, out[i].Stamp)
			}
			out[i].Seq = seqs[i]
		}
		if _, err := t.upsertWinners(out, bare, false); err != nil {
			return err
		}
		t.advanceClocks(out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// commitChecked stores writes one at a time against the stored document:
// preconditions compare with it, and resolvers other than last-write-wins
// may need it or the key's history.
func (s *Store) commitChecked(ctx context.Context, r domain.Resolver, writes []ports.Write) ([]domain.Entry, error) {
	out := make([]domain.Entry, len(writes))
	// Preconditions and resolvers read the documents table, which write
	// brings up to date first.
	err := s.write(ctx, opCommit, func(t *writeTx) error {
		for i := range writes {
			w := &writes[i]
			e := w.Entry
			cur, err := t.loadDoc(e.Collection, e.Key)
			if err != nil {
				return err
			}
			if err := checkPrecondition(w, cur, s.nowMs()); err != nil {
				return err
			}
			if err := t.seal(&e); err != nil {
				return err
			}
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
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkPrecondition compares a write's precondition with the stored
// document (nil, a tombstone or expired at nowMs: none).
func checkPrecondition(w *ports.Write, cur *domain.Document, nowMs int64) error {
	e := &w.Entry
	live := cur != nil && !cur.Deleted && !domain.Expired(cur.ExpiresAt, nowMs)
	if w.MustExist && !live {
		return domain.Errorf(domain.CodeNotFound, opCommit, "%s/%s does not exist", e.Collection, e.Key)
	}
	if w.IfVersion == nil {
		return nil
	}
	if w.IfVersion.IsZero() && live {
		return domain.Errorf(domain.CodeConflict, opCommit, "%s/%s already exists (version %s)", e.Collection, e.Key, cur.Version())
	}
	if !w.IfVersion.IsZero() && (!live || cur.Stamp != *w.IfVersion) {
		have := "none"
		if live {
			have = cur.Version()
		}
		return domain.Errorf(domain.CodeConflict, opCommit, "%s/%s is at version %s, not %s", e.Collection, e.Key, have, w.IfVersion)
	}
	return nil
}
