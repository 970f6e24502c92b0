package sqlite

import (
	"github.com/entgldb/entgldb-go/domain"
)

// keepPrevLinks keeps the link before a proven run (domain.Entry.PrevLink)
// when the run follows its author's head and that head is not held — a
// chain that starts at a snapshot's heads — in link_boundaries, where
// LinkOf finds it: this node can then prove the run to the next peer. Only
// the head is looked at: a run we apply links to our chain there, and an
// entry after another of the same batch has its predecessor held.
func (t *writeTx) keepPrevLinks(batch []domain.Entry) error {
	for i := range batch {
		e := &batch[i]
		if e.PrevLink == nil || e.PrevHash == "" {
			continue
		}
		a := e.Author()
		h, ok := t.effectiveHead(a)
		if !ok || h.hash != e.PrevHash {
			continue
		}
		link, err := t.headLink(a, h)
		if err != nil || link != nil {
			return err
		}
		var held bool
		if err := t.tx.QueryRowContext(t.ctx, `SELECT EXISTS (SELECT 1 FROM oplog
			WHERE node = ? AND wall = ? AND logic = ? AND hash = ?)`, a, h.wall, h.logic, hashArg(h.hash)).Scan(&held); err != nil {
			return err
		}
		if held {
			continue // held without a link (from before links): nothing to vouch for
		}
		if _, err := t.tx.ExecContext(t.ctx, `INSERT OR IGNORE INTO link_boundaries (hash, link) VALUES (?, ?)`,
			e.PrevHash, e.PrevLink); err != nil {
			return err
		}
	}
	return nil
}
