package sqlite

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// ApplyRemote stores peers' entries in transactions of at most BatchSize,
// with the link, proof and legacy mark each carries (the app verified
// them; a proof is kept without its LinkBefore).
// Entries already held are skipped (the oplog's unique key makes re-delivery
// a no-op). Batches committed before an error stay committed; the result
// reports them.
func (s *Store) ApplyRemote(ctx context.Context, r domain.Resolver, entries []domain.Entry) (ports.ApplyResult, error) {
	const op = "sqlite.ApplyRemote"
	res := ports.ApplyResult{Applied: make([]domain.Entry, 0, len(entries))}
	if err := checkProofs(op, entries); err != nil {
		return res, err
	}
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
		err := s.write(ctx, op, func(t *writeTx) error {
			// Applied fills res.Applied's spare capacity (it holds every
			// entry): no copy per batch.
			part = ports.ApplyResult{Applied: res.Applied[len(res.Applied):len(res.Applied)]}
			if err := t.keepPrevLinks(batch); err != nil {
				return err
			}
			if lww {
				return applyLWW(t, batch, &part)
			}
			return applyEach(t, r, batch, &part)
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

// applyLWW stores one batch under last-write-wins with a few multi-row
// statements: the oplog insert reports which entries are new, then only
// the newest new entry of each key competes with the stored document.
// That gives the same documents as applying the entries one by one, since
// last-write-wins keeps the greatest stamp whatever the order.
func applyLWW(t *writeTx, batch []domain.Entry, part *ports.ApplyResult) error {
	bare := bareWinners(batch)
	seqs, err := t.insertRows(batch, bare)
	if err != nil {
		return err
	}
	appliedBare := make([]bool, 0, len(batch))
	for i := range batch {
		if seqs[i] == 0 {
			part.Skipped++
			continue
		}
		e := batch[i]
		e.Seq = seqs[i]
		part.Applied = append(part.Applied, e)
		appliedBare = append(appliedBare, bare[i])
	}
	changed, err := t.upsertWinners(part.Applied, appliedBare, true)
	if err != nil {
		return err
	}
	part.Changed = changed
	t.advanceClocks(part.Applied)
	return nil
}

// applyEach stores a batch one entry at a time, resolving each against the
// document as the previous entries left it (resolvers other than
// last-write-wins may depend on the order).
func applyEach(t *writeTx, r domain.Resolver, batch []domain.Entry, part *ports.ApplyResult) error {
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
		doc, changed, err := t.resolveStored(r, &e, true)
		if err != nil {
			return err
		}
		if changed {
			part.Changed = append(part.Changed, doc)
		}
	}
	t.advanceClocks(part.Applied)
	return nil
}
