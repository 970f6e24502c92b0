package sqlite

import (
	"context"
	"database/sql"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
)

// A merge that takes a collected delete's marker (snapshotfile_merge.go)
// may leave this node holding older entries of the marker's document: its
// own copies from before it fell behind. A file with such a row is refused
// by any node that installs it (an install leaves markers out, so the
// entry would be all that shows of the document, resurrecting it), so
// this node could no longer serve its snapshot file. The entries are
// superseded by the marker; they are removed right after the merge as a
// compaction batch removes entries, holes recorded and bridges kept, so
// every chain stays provable. This trusts the peer no further than taking
// the marker does (the document is deleted here by it already); only the
// superseded copies go, earlier than a compaction pass would take them.

// supersededByMarker reads the entries of a document whose row is the
// marker at a stamp, older than it.
const supersededByMarker = `SELECT o.seq, o.node, o.wall, o.logic, o.hash FROM oplog o JOIN documents d
	ON d.collection = o.collection AND d.key = o.key
	WHERE o.collection = ?1 AND o.key = ?2 AND d.deleted <> 0 AND d.data IS NULL
		AND d.wall = ?3 AND d.logic = ?4 AND d.node = ?5 AND (o.wall, o.logic, o.node) < (?3, ?4, ?5)`

// compactUnderMarkers removes the entries the merged markers supersede
// (none that is its author's head).
func (s *Store) compactUnderMarkers(ctx context.Context, markers []domain.Entry) error {
	const op = "sqlite.MergeSnapshotFile"
	if len(markers) == 0 {
		return nil
	}
	defer s.recent.forget() // as after Compact
	var st compactStmts
	defer st.close()
	s.st.wmu.Lock()
	err := st.prepare(ctx, s.reader.DB, s.writer.DB)
	s.st.wmu.Unlock()
	if err != nil {
		return mapErr(op, err)
	}
	plan, err := s.planUnderMarkers(ctx, &st, markers)
	if err != nil || len(plan.removed) == 0 {
		return mapErr(op, err)
	}
	return s.writeKeepPending(ctx, op, func(t *writeTx) error { return t.compactApply(&st, &plan) })
}

// planUnderMarkers is the compaction batch that removes the entries
// markers supersede.
func (s *Store) planUnderMarkers(ctx context.Context, st *compactStmts, markers []domain.Entry) (compactPlan, error) {
	var plan compactPlan
	tx, err := s.reader.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return plan, err
	}
	defer func() { _ = tx.Rollback() }()
	removed := removedRows{hashes: map[int64]string{}, stamps: map[int64]domain.Timestamp{}}
	spans := map[string]*stampSpan{}
	for _, m := range markers {
		rows, err := tx.QueryContext(ctx, supersededByMarker, m.Collection, m.Key, m.Stamp.Wall, m.Stamp.Logical, m.Stamp.Node)
		if err != nil {
			return plan, err
		}
		for rows.Next() {
			var seq int64
			var e domain.Entry
			if err := rows.Scan(&seq, &e.Stamp.Node, &e.Stamp.Wall, &e.Stamp.Logical, storedHash{&e.Hash}); err != nil {
				rows.Close()
				return plan, err
			}
			s.st.mu.RLock()
			h := s.st.heads[e.Stamp.Node]
			s.st.mu.RUnlock()
			if h.hash == e.Hash || removed.hashes[seq] != "" {
				continue
			}
			plan.removed = append(plan.removed, seq)
			removed.hashes[seq], removed.stamps[seq] = e.Hash, e.Stamp
			if sp := spans[e.Stamp.Node]; sp != nil {
				sp.add(e.Stamp.Wall, e.Stamp.Logical)
			} else {
				spans[e.Stamp.Node] = &stampSpan{e.Stamp.Wall, e.Stamp.Wall, e.Stamp.Logical, e.Stamp.Logical}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return plan, err
		}
	}
	if len(plan.removed) == 0 {
		return plan, nil
	}
	plan.res.EntriesRemoved = len(plan.removed)
	s.log.Debug("merge: removing entries a collected delete supersedes", zap.Int("entries", len(plan.removed)))
	return plan, s.planBoundaries(ctx, tx, st, &plan, removed, spans)
}
