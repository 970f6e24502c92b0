package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

var (
	_ ports.Compactor       = (*Store)(nil)
	_ ports.StorageReporter = (*Store)(nil)
)

// compactBatch bounds the oplog rows one compaction transaction looks at:
// writers wait for at most one batch (which also writes what they left
// pending).
const compactBatch = 100

// compactScan reads a batch of oplog rows after a seq with what the rule
// needs: the document's current stamp (the newest version held, or the
// marker of a collected delete) and the entry's size, up to the last seq
// when the pass began (what writers add meanwhile waits for the next
// pass, or a pass under a steady write load would never end). The
// greatest seq is never removed (see pruneWhere).
const compactScan = `SELECT o.seq, o.node, o.wall, o.logic, o.op, o.hash, o.expires_at,
		length(o.collection) + length(o.key) + coalesce(length(o.data), CASE WHEN o.op = 0 AND d.wall = o.wall AND d.logic = o.logic
				AND d.node = o.node THEN length(d.data) END, 0) + length(o.node)
			+ length(o.hash) + coalesce(length(o.prev_hash), length(o.hash)) + coalesce(length(o.proof), 0) + 32,
		d.wall, d.logic, d.node
	FROM oplog o LEFT JOIN documents d ON d.collection = o.collection AND d.key = o.key
	WHERE o.seq > ? AND o.seq <= ? AND o.seq < (SELECT max(seq) FROM oplog)
	ORDER BY o.seq LIMIT ?`

// Holes (ports.Compactor): a removed entry whose successor in its author's
// chain stays keeps its link in link_boundaries; a boundary whose
// successor is removed now gives way to the new end of the run. The
// batch's removed seqs sit in a temporary table, so each statement finds
// them by key. An author's entries that share a stamp count as one step.
const (
	compactTemp     = `CREATE TEMP TABLE IF NOT EXISTS compact_removed (seq INTEGER PRIMARY KEY)`
	compactTempFill = `INSERT INTO temp.compact_removed (seq) SELECT value FROM json_each(?1)`
	compactTempDone = `DELETE FROM temp.compact_removed`
	compactDelete   = `DELETE FROM oplog WHERE seq IN temp.compact_removed`

	// compactExpired turns the rows of collected expired documents into
	// the marker a collected delete leaves (key and stamp, no content).
	// Only a removed entry that is its document's current version counts.
	compactExpired = `UPDATE documents SET data = NULL, deleted = 1, expires_at = 0
		WHERE deleted = 0 AND expires_at <> 0 AND EXISTS (SELECT 1 FROM oplog o
			WHERE o.seq IN temp.compact_removed AND o.collection = documents.collection AND o.key = documents.key
				AND o.wall = documents.wall AND o.logic = documents.logic AND o.node = documents.node)`
)

// The boundaries name hashes as text (storedonce.go).
var (
	compactDropBoundaries = `DELETE FROM link_boundaries WHERE hash IN (
		SELECT ` + hashText(prevHashOf("oplog")) + ` FROM oplog WHERE seq IN temp.compact_removed)`
	compactAddBoundaries = `WITH succ AS (
			SELECT r.hash AS hash, ` + hashText("r.hash") + ` AS text, r.link AS link,
				(SELECT o.seq FROM oplog o WHERE o.node = r.node AND (o.wall, o.logic) > (r.wall, r.logic)
					ORDER BY o.wall, o.logic LIMIT 1) AS next
			FROM oplog r WHERE r.seq IN temp.compact_removed)
		INSERT OR REPLACE INTO link_boundaries (hash, link)
		SELECT s.text, s.link FROM succ s JOIN oplog n ON n.seq = s.next
		WHERE ` + prevHashOf("n") + ` = s.hash AND s.next NOT IN temp.compact_removed`
)

// Compact implements ports.Compactor in transactions of at most
// compactBatch rows, each followed by a pause as long, through the write
// path: pending documents are written first, so the rule sees every
// document's current stamp, and nothing the replay at Open would need is
// removed. A pass covers the oplog as it was when it began.
func (s *Store) Compact(ctx context.Context, p domain.CompactionPolicy) (ports.CompactionResult, error) {
	const op = "sqlite.Compact"
	// Entries the proving reads remember may be removed (as after Prune).
	defer s.recent.forget()
	var res ports.CompactionResult
	var cursor int64
	end, err := s.LastSeq(ctx)
	if err != nil {
		return res, mapErr(op, err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return res, domain.Wrap(domain.CodeTimeout, op, err)
		}
		var scanned int
		began := time.Now()
		err := s.write(ctx, op, func(t *writeTx) error {
			var err error
			scanned, cursor, err = t.compactBatch(p, cursor, end, &res)
			return err
		})
		if err != nil {
			return res, err
		}
		if scanned < compactBatch {
			return res, nil
		}
		yieldToWriters(ctx, time.Since(began))
	}
}

// yieldToWriters lets the writers queued behind a maintenance step in: for
// as long as the step held the writer lock, the lock is theirs (a mutex
// handed straight back would let the next step jump the queue).
func yieldToWriters(ctx context.Context, held time.Duration) {
	pause := time.NewTimer(held)
	defer pause.Stop()
	select {
	case <-ctx.Done():
	case <-pause.C:
	}
}

// compactBatch removes what p allows among the compactBatch rows after
// cursor, up to end, and returns how many rows it looked at and the last
// seq.
func (t *writeTx) compactBatch(p domain.CompactionPolicy, cursor, end int64, res *ports.CompactionResult) (int, int64, error) {
	rows, err := t.tx.QueryContext(t.ctx, compactScan, cursor, end, compactBatch)
	if err != nil {
		return 0, cursor, err
	}
	var removed []int64
	var r ports.CompactionResult
	scanned := 0
	for rows.Next() {
		var e domain.Entry
		var size int64
		var dWall, dLogic sql.NullInt64
		var dNode sql.NullString
		if err := rows.Scan(&cursor, &e.Stamp.Node, &e.Stamp.Wall, &e.Stamp.Logical, &e.Op, storedHash{&e.Hash}, &e.ExpiresAt, &size,
			&dWall, &dLogic, &dNode); err != nil {
			rows.Close()
			return 0, cursor, err
		}
		scanned++
		h, _ := t.effectiveHead(e.Stamp.Node)
		doc := domain.Timestamp{Wall: dWall.Int64, Logical: int32(dLogic.Int64), Node: dNode.String}
		superseded := dWall.Valid && doc.After(e.Stamp)
		if !p.Removable(&e, h.hash == e.Hash, superseded) {
			continue
		}
		removed = append(removed, cursor)
		r.EntriesRemoved++
		r.BytesRemoved += size
		if !superseded {
			r.TombstonesRemoved++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, cursor, err
	}
	if len(removed) > 0 {
		seqs, err := json.Marshal(removed)
		if err != nil {
			return 0, cursor, err
		}
		for _, q := range []string{compactTemp, compactTempDone, compactTempFill, compactDropBoundaries, compactAddBoundaries, compactExpired, compactDelete, compactTempDone} {
			var args []any
			if q == compactTempFill {
				args = []any{string(seqs)}
			}
			if _, err := t.tx.ExecContext(t.ctx, q, args...); err != nil {
				return 0, cursor, err
			}
		}
	}
	// Counted only now: a batch that fails is rolled back whole.
	res.EntriesRemoved += r.EntriesRemoved
	res.TombstonesRemoved += r.TombstonesRemoved
	res.BytesRemoved += r.BytesRemoved
	return scanned, cursor, nil
}

// boundaryLink is the link kept for a compacted entry (found false: the
// hash names no hole).
func (s *Store) boundaryLink(ctx context.Context, hash string) (link []byte, found bool, err error) {
	err = s.reader.DB.QueryRowContext(ctx, `SELECT link FROM link_boundaries WHERE hash = ?`, hash).Scan(&link)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return link, err == nil, err
}

// acrossHole reports whether one of entries follows a compacted entry.
func (s *Store) acrossHole(ctx context.Context, entries []domain.Entry) (bool, error) {
	if len(entries) == 0 {
		return false, nil
	}
	prev := make([]string, len(entries))
	for i := range entries {
		prev[i] = entries[i].PrevHash
	}
	raw, err := json.Marshal(prev)
	if err != nil {
		return false, err
	}
	var found bool
	err = s.reader.DB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM link_boundaries
		WHERE hash IN (SELECT value FROM json_each(?)))`, string(raw)).Scan(&found)
	return found, err
}

// StorageStats implements ports.StorageReporter: a count of the oplog and
// of deleted documents' rows (each a scan: for status, not hot paths) and
// the sizes of the database file and its WAL.
func (s *Store) StorageStats(ctx context.Context) (ports.StorageStats, error) {
	const op = "sqlite.StorageStats"
	var st ports.StorageStats
	err := s.reader.DB.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM oplog),
		(SELECT count(*) FROM documents WHERE deleted = 1)`).Scan(&st.OplogEntries, &st.Tombstones)
	if err != nil {
		return st, mapErr(op, err)
	}
	st.DiskBytes = fileSize(s.opts.Path) + fileSize(s.opts.Path+"-wal")
	return st, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
