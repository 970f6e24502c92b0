package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func scanEntry(rows *sql.Rows) (domain.Entry, error) {
	var e domain.Entry
	var op int
	var data sql.NullString
	err := rows.Scan(&e.Seq, &e.Collection, &e.Key, &op, &data, &e.Stamp.Wall, &e.Stamp.Logical, &e.Stamp.Node, &e.Hash, &e.PrevHash)
	e.Op = domain.Op(op)
	if data.Valid {
		e.Data = []byte(data.String)
	}
	return e, err
}

// scanEntries reads every row and closes rows.
func scanEntries(rows *sql.Rows) ([]domain.Entry, error) {
	defer rows.Close()
	var out []domain.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Store) queryEntries(ctx context.Context, op, query string, args ...any) ([]domain.Entry, error) {
	rows, err := s.reader.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := scanEntries(rows)
	return out, mapErr(op, err)
}

// EntriesAfter returns entries after since's (wall, logical) in HLC order.
// The node part of since is ignored (PROTOCOL.md: since_node is ignored), and
// a page always ends on a whole (wall, logical) group, so the next page can
// start strictly after the last entry's (wall, logical) without losing any.
func (s *Store) EntriesAfter(ctx context.Context, since domain.Timestamp, collections []string, maxEntries, maxBytes int) ([]domain.Entry, error) {
	const op = "sqlite.EntriesAfter"
	var sb strings.Builder
	sb.WriteString(`SELECT ` + entryCols + ` FROM oplog WHERE (wall, logic) > (?, ?)`)
	args := []any{since.Wall, since.Logical}
	if len(collections) > 0 {
		sb.WriteString(` AND collection IN (?` + strings.Repeat(`, ?`, len(collections)-1) + `)`)
		for _, c := range collections {
			args = append(args, c)
		}
	}
	sb.WriteString(` ORDER BY wall, logic, node, seq`)
	// No LIMIT: rows stream from the stamp index and reading stops at the cap.
	rows, err := s.reader.DB.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	// A group is added whole while the page stays within both limits
	// (<= 0: none); the first group always is, so a reader makes progress.
	var out, group []domain.Entry
	bytes, groupBytes := 0, 0
	flush := func() bool {
		if len(out) > 0 && ((maxEntries > 0 && len(out)+len(group) > maxEntries) ||
			(maxBytes > 0 && bytes+groupBytes > maxBytes)) {
			return false
		}
		out = append(out, group...)
		bytes += groupBytes
		group, groupBytes = group[:0:0], 0
		return true
	}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		if n := len(group); n > 0 && (group[n-1].Stamp.Wall != e.Stamp.Wall || group[n-1].Stamp.Logical != e.Stamp.Logical) {
			if !flush() {
				return out, nil
			}
		}
		group = append(group, e)
		groupBytes += e.Size()
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	if len(group) > 0 {
		flush()
	}
	return out, nil
}

// AuthorEntriesAfter returns one author's entries strictly after since.
func (s *Store) AuthorEntriesAfter(ctx context.Context, author string, since domain.Timestamp, limit int) ([]domain.Entry, error) {
	if limit <= 0 {
		limit = -1
	}
	return s.queryEntries(ctx, "sqlite.AuthorEntriesAfter", `SELECT `+entryCols+` FROM oplog
		WHERE node = ? AND (wall, logic, node) > (?, ?, ?) ORDER BY wall, logic, seq LIMIT ?`,
		author, since.Wall, since.Logical, since.Node, limit)
}

// EntriesSinceSeq returns entries with Seq > seq in Seq order.
func (s *Store) EntriesSinceSeq(ctx context.Context, seq int64, limit int) ([]domain.Entry, error) {
	if limit <= 0 {
		limit = -1
	}
	return s.queryEntries(ctx, "sqlite.EntriesSinceSeq", `SELECT `+entryCols+` FROM oplog
		WHERE seq > ? ORDER BY seq LIMIT ?`, seq, limit)
}

type chainPoint struct {
	author string
	wall   int64
	logic  int32
	found  bool
}

// oplogHashLookup names oplog_hash's expression so the planner uses it.
const oplogHashLookup = `SELECT node, wall, logic FROM oplog WHERE substr(hash, 1, 8) = substr(?1, 1, 8) AND hash = ?1 LIMIT 1`

func (s *Store) lookupHash(ctx context.Context, table, hash string) (chainPoint, error) {
	var p chainPoint
	query := oplogHashLookup
	if table == "pruned" {
		query = `SELECT author, wall, logic FROM pruned WHERE hash = ?1 LIMIT 1`
	}
	err := s.reader.DB.QueryRowContext(ctx, query, hash).Scan(&p.author, &p.wall, &p.logic)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	p.found = err == nil
	return p, err
}

// ChainRange returns one author's entries strictly after startHash up to and
// including endHash. startHash "" means the start of the chain. A start we
// do not hold (pruned, or never seen) gives ports.ErrHistoryPruned; so does
// a start before the pruned boundary. A start exactly at the
// boundary (the newest pruned entry) is served: the chain resumes after it.
func (s *Store) ChainRange(ctx context.Context, startHash, endHash string) ([]domain.Entry, error) {
	const op = "sqlite.ChainRange"
	end, err := s.lookupHash(ctx, "oplog", endHash)
	if err != nil {
		return nil, mapErr(op, err)
	}
	if !end.found {
		return nil, domain.Errorf(domain.CodeNotFound, op, "no entry with hash %q", endHash)
	}
	var boundary chainPoint
	err = s.reader.DB.QueryRowContext(ctx, `SELECT author, wall, logic FROM pruned WHERE author = ?`, end.author).
		Scan(&boundary.author, &boundary.wall, &boundary.logic)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, mapErr(op, err)
	default:
		boundary.found = true
	}
	var from chainPoint // zero: the beginning of the chain
	if startHash != "" {
		if from, err = s.lookupHash(ctx, "oplog", startHash); err != nil {
			return nil, mapErr(op, err)
		}
		if !from.found {
			bp, err := s.lookupHash(ctx, "pruned", startHash)
			if err != nil {
				return nil, mapErr(op, err)
			}
			if !bp.found || bp.author != end.author {
				// We cannot serve history we do not hold: the peer
				// bootstraps from a snapshot instead.
				return nil, domain.Wrap(domain.CodeSync, op, ports.ErrHistoryPruned)
			}
			from = bp
		}
		if from.author != end.author {
			return nil, domain.Errorf(domain.CodeInvalidArgument, op, "start and end hashes belong to different authors")
		}
	}
	if boundary.found && (from.wall < boundary.wall || from.wall == boundary.wall && from.logic < boundary.logic) {
		return nil, domain.Wrap(domain.CodeSync, op, ports.ErrHistoryPruned)
	}
	return s.queryEntries(ctx, op, `SELECT `+entryCols+` FROM oplog
		WHERE node = ? AND (wall, logic) > (?, ?) AND (wall, logic) <= (?, ?) ORDER BY wall, logic, seq`,
		end.author, from.wall, from.logic, end.wall, end.logic)
}

// NewestStamp is the greatest stamp held: the true maximum row of the
// oplog, or of the vector clock when pruning emptied the oplog.
func (s *Store) NewestStamp(ctx context.Context) (domain.Timestamp, error) {
	const op = "sqlite.NewestStamp"
	var ts domain.Timestamp
	err := s.reader.DB.QueryRowContext(ctx, `SELECT wall, logic, node FROM (
			SELECT * FROM (SELECT wall, logic, node FROM oplog ORDER BY wall DESC, logic DESC, node DESC LIMIT 1)
			UNION ALL
			SELECT * FROM (SELECT wall, logic, author FROM vclock ORDER BY wall DESC, logic DESC, author DESC LIMIT 1)
		) ORDER BY wall DESC, logic DESC, node DESC LIMIT 1`).Scan(&ts.Wall, &ts.Logical, &ts.Node)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Timestamp{}, nil
	}
	return ts, mapErr(op, err)
}

// VectorClock maps every author to the newest stamp held from it.
func (s *Store) VectorClock(ctx context.Context) (domain.VectorClock, error) {
	const op = "sqlite.VectorClock"
	rows, err := s.reader.DB.QueryContext(ctx, `SELECT author, wall, logic FROM vclock`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	vc := domain.VectorClock{}
	for rows.Next() {
		var ts domain.Timestamp
		if err := rows.Scan(&ts.Node, &ts.Wall, &ts.Logical); err != nil {
			return nil, mapErr(op, err)
		}
		vc[ts.Node] = ts
	}
	return vc, mapErr(op, rows.Err())
}

// Heads maps every author to the hash of its newest entry held.
func (s *Store) Heads(ctx context.Context) (map[string]string, error) {
	const op = "sqlite.Heads"
	rows, err := s.reader.DB.QueryContext(ctx, `SELECT author, hash FROM vclock`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	heads := map[string]string{}
	for rows.Next() {
		var a, h string
		if err := rows.Scan(&a, &h); err != nil {
			return nil, mapErr(op, err)
		}
		heads[a] = h
	}
	return heads, mapErr(op, rows.Err())
}

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
	err := s.writeTx(ctx, op, func(t *txStmts) error {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO pruned (author, wall, logic, hash)
			SELECT node, wall, logic, hash FROM (
				SELECT node, wall, logic, hash,
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
	return int(n), err
}
