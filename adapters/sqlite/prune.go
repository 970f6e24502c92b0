package sqlite

import (
	"context"
)

// pruneWhere selects the entries Prune drops: older than the horizon, but
// never the entry with the greatest seq. seq is the rowid, which SQLite
// assigns as the greatest held plus one; keeping that row keeps Seq strictly
// increasing for the change feed (EntriesSinceSeq) without AUTOINCREMENT,
// whose sqlite_sequence row would cost every commit one more page write.
const pruneWhere = `wall < ? AND seq < (SELECT max(seq) FROM oplog)`

// Prune drops oplog entries with wall < beforeWall, except the newest by
// seq (see pruneWhere). Per author it first records the newest dropped
// entry as the boundary the chain resumes after; the vector clock keeps
// every head.
func (s *Store) Prune(ctx context.Context, beforeWall int64) (int, error) {
	const op = "sqlite.Prune"
	var n int64
	// write also brings the vclock table up to date with every head, which
	// it keeps once the entries are gone.
	err := s.write(ctx, op, func(t *writeTx) error {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO pruned (author, wall, logic, hash)
			SELECT node, wall, logic, hash FROM (
				SELECT node, wall, logic, `+hashText("hash")+` AS hash,
					row_number() OVER (PARTITION BY node ORDER BY wall DESC, logic DESC) AS rn
				FROM oplog WHERE `+pruneWhere+`)
			WHERE rn = 1
			ON CONFLICT (author) DO UPDATE SET wall = excluded.wall, logic = excluded.logic, hash = excluded.hash
			WHERE (excluded.wall, excluded.logic) > (pruned.wall, pruned.logic)`, beforeWall); err != nil {
			return err
		}
		res, err := t.tx.ExecContext(ctx, `DELETE FROM oplog WHERE `+pruneWhere, beforeWall)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	s.recent.forget()
	return int(n), err
}
