package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func (s *Store) queryEntries(ctx context.Context, op, query string, args ...any) ([]domain.Entry, error) {
	rows, err := s.reader.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := scanEntries(rows)
	s.recent.remember(out)
	return out, mapErr(op, err)
}

// EntriesAfter returns entries after since's (wall, logical) in HLC order.
// The node part of since is ignored (PROTOCOL.md: since_node is ignored), and
// a page always ends on a whole (wall, logical) group, so the next page can
// start strictly after the last entry's (wall, logical) without losing any.
//
// There is no index in HLC order across authors (it would cost every write
// a page): each author's entries come in order from the oplog's unique key,
// a window at a time, and are merged here. Entries below every window's end
// are complete and in order; the page grows from them.
func (s *Store) EntriesAfter(ctx context.Context, since domain.Timestamp, collections []string, maxEntries, maxBytes int) ([]domain.Entry, error) {
	const op = "sqlite.EntriesAfter"
	var sb strings.Builder
	sb.WriteString(`SELECT ` + entryCols + ` FROM oplog WHERE node = ? AND (wall, logic) > (?, ?)`)
	if len(collections) > 0 {
		sb.WriteString(` AND collection IN (?` + strings.Repeat(`, ?`, len(collections)-1) + `)`)
	}
	sb.WriteString(` ORDER BY wall, logic, seq LIMIT ?`)
	query := sb.String()
	window := 512
	if maxEntries > 0 {
		window = maxEntries + 1
	}
	// One read transaction: every author's window comes from the same
	// state of the oplog.
	// (Prepared first: preparing inside would wait for a second pool
	// connection while holding one.)
	prepared, err := s.queries.stmt(ctx, query)
	if err != nil {
		return nil, mapErr(op, err)
	}
	tx, err := s.reader.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	read := func(args []any) ([]domain.Entry, error) {
		var rows *sql.Rows
		var err error
		if prepared != nil {
			rows, err = tx.StmtContext(ctx, prepared).QueryContext(ctx, args...)
		} else {
			rows, err = tx.QueryContext(ctx, query, args...)
		}
		if err != nil {
			return nil, mapErr(op, err)
		}
		es, err := scanEntries(rows)
		return es, mapErr(op, err)
	}
	p := page{maxEntries: maxEntries, maxBytes: maxBytes}
	cursor := head{wall: since.Wall, logic: since.Logical}
	for {
		authors := s.authorsAfter(cursor)
		var merged []domain.Entry
		var cut *head // the smallest end of a window that was full
		for _, a := range authors {
			args := []any{a, cursor.wall, cursor.logic}
			for _, c := range collections {
				args = append(args, c)
			}
			es, err := read(append(args, window))
			if err != nil {
				return nil, err
			}
			if len(es) == window {
				last := es[len(es)-1].Stamp
				if cut == nil || (head{wall: last.Wall, logic: last.Logical}).before(cut.wall, cut.logic) {
					cut = &head{wall: last.Wall, logic: last.Logical}
				}
			}
			merged = append(merged, es...)
		}
		slices.SortFunc(merged, func(a, b domain.Entry) int {
			if c := cmp.Compare(a.Stamp.Wall, b.Stamp.Wall); c != 0 {
				return c
			}
			if c := cmp.Compare(a.Stamp.Logical, b.Stamp.Logical); c != 0 {
				return c
			}
			if c := strings.Compare(a.Stamp.Node, b.Stamp.Node); c != 0 {
				return c
			}
			return cmp.Compare(a.Seq, b.Seq)
		})
		if cut != nil {
			// Beyond the cut an author may hold entries not read yet.
			n := 0
			for n < len(merged) && (head{wall: merged[n].Stamp.Wall, logic: merged[n].Stamp.Logical}).before(cut.wall, cut.logic) {
				n++
			}
			merged = merged[:n]
			if n == 0 {
				window *= 4 // one (wall, logical) group larger than the window
				continue
			}
		}
		if !p.add(merged) || cut == nil {
			s.recent.remember(p.out)
			return p.out, nil
		}
		last := merged[len(merged)-1].Stamp
		cursor = head{wall: last.Wall, logic: last.Logical}
	}
}

// authorsAfter lists the authors whose head is after the cursor, sorted.
func (s *Store) authorsAfter(cursor head) []string {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	var out []string
	for a, h := range s.st.heads {
		if cursor.before(h.wall, h.logic) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// page collects whole (wall, logical) groups while it stays within both
// limits (<= 0: none); the first group always goes in, so a reader makes
// progress.
type page struct {
	maxEntries, maxBytes int
	out                  []domain.Entry
	bytes                int
}

// add appends the groups of sorted (complete groups only) and reports
// whether the page can take more.
func (p *page) add(sorted []domain.Entry) bool {
	for start := 0; start < len(sorted); {
		end, size := start, 0
		for end < len(sorted) && sorted[end].Stamp.Wall == sorted[start].Stamp.Wall && sorted[end].Stamp.Logical == sorted[start].Stamp.Logical {
			size += sorted[end].Size()
			end++
		}
		if len(p.out) > 0 && ((p.maxEntries > 0 && len(p.out)+end-start > p.maxEntries) ||
			(p.maxBytes > 0 && p.bytes+size > p.maxBytes)) {
			return false
		}
		p.out = append(p.out, sorted[start:end]...)
		p.bytes += size
		start = end
	}
	return true
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

// oplogHashLookup finds an entry by hash, newest first. No index serves it:
// a hash index costs every write a page at a random place, while lookups
// come only from chain-gap repairs (GetChainRange), which name recent
// entries (the newest held from a peer), so the backward scan stops early.
const oplogHashLookup = `SELECT node, wall, logic FROM oplog WHERE hash = ?1 ORDER BY seq DESC LIMIT 1`

func (s *Store) lookupHash(ctx context.Context, table, hash string) (chainPoint, error) {
	var p chainPoint
	query, arg := oplogHashLookup, hashArg(hash)
	if table == "pruned" {
		query, arg = `SELECT author, wall, logic FROM pruned WHERE hash = ?1 LIMIT 1`, hash
	}
	err := s.reader.DB.QueryRowContext(ctx, query, arg).Scan(&p.author, &p.wall, &p.logic)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	p.found = err == nil
	return p, err
}

// ChainRange returns one author's entries strictly after startHash up to and
// including endHash. startHash "" means the start of the chain. A start we
// do not hold (pruned, or never seen) gives ports.ErrHistoryPruned; so does
// a start before the pruned boundary, and a range across compacted
// entries. A start exactly at the boundary (the newest pruned entry) is
// served: the chain resumes after it.
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
	out, err := s.queryEntries(ctx, op, `SELECT `+entryCols+` FROM oplog
		WHERE node = ? AND (wall, logic) > (?, ?) AND (wall, logic) <= (?, ?) ORDER BY wall, logic, seq`,
		end.author, from.wall, from.logic, end.wall, end.logic)
	if err != nil {
		return nil, err
	}
	if hole, err := s.acrossHole(ctx, out); err != nil || hole {
		if err != nil {
			return nil, mapErr(op, err)
		}
		// Compacted entries inside the range (compact.go).
		return nil, domain.Wrap(domain.CodeSync, op, ports.ErrHistoryPruned)
	}
	return out, nil
}

// LastSeq is the greatest seq committed (Prune keeps that row, pruneWhere).
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return s.st.lastSeq, ctx.Err()
}

// NewestStamp is the greatest stamp held: the greatest of the authors'
// heads, each its author's newest entry (kept after Prune and snapshots).
func (s *Store) NewestStamp(ctx context.Context) (domain.Timestamp, error) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	var ts domain.Timestamp
	for a, h := range s.st.heads {
		if c := (domain.Timestamp{Wall: h.wall, Logical: h.logic, Node: a}); c.After(ts) {
			ts = c
		}
	}
	return ts, ctx.Err()
}

// VectorClock maps every author to the newest stamp held from it.
func (s *Store) VectorClock(ctx context.Context) (domain.VectorClock, error) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	vc := make(domain.VectorClock, len(s.st.heads))
	for a, h := range s.st.heads {
		vc[a] = domain.Timestamp{Wall: h.wall, Logical: h.logic, Node: a}
	}
	return vc, ctx.Err()
}

// Heads maps every author to the hash of its newest entry held.
func (s *Store) Heads(ctx context.Context) (map[string]string, error) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	heads := make(map[string]string, len(s.st.heads))
	for a, h := range s.st.heads {
		heads[a] = h.hash
	}
	return heads, ctx.Err()
}
