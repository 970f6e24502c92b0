package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/entgldb/entgldb-go/domain"
)

// Holes (ports.Compactor): a removed entry whose successor in its author's
// chain stays keeps its link in link_boundaries; a boundary whose
// successor is removed now gives way to the new end of the run. An
// author's entries that share a stamp count as one step: the successor is
// the author's first entry with a greater stamp, in the unique key's order.
//
// A batch finds the successors of its removed entries with one ordered read
// per author (compactChain), from the oldest removed stamp to the first
// entry after the newest: in a chain appended in order that is the batch's
// own rows again. An author whose removed entries lie far apart in its
// chain (entries that arrived out of order) stops at chainReadMax rows; the
// entries it did not settle take one lookup each (compactLinks).

// compactChain reads an author's entries from a stamp on: seq, stamp, hash,
// prev hash, link and proof column.
var compactChain = `SELECT o.seq, o.wall, o.logic, o.hash, ` + prevHashOf("o") + `, o.link, o.proof FROM oplog o
	WHERE o.node = ?1 AND (o.wall, o.logic) >= (?2, ?3) ORDER BY o.wall, o.logic, o.collection, o.key`

// compactLinks reads, for each of the removed seqs (a JSON array), its
// prev_hash as text, its link, its successor's seq and whether the
// successor chains from it.
var compactLinks = `WITH rm(seq) AS (SELECT value FROM json_each(?1))
	SELECT r.seq, ` + hashText(prevHashOf("r")) + `, r.link, n.seq, coalesce(` + prevHashOf("n") + ` = r.hash, 0)
	FROM oplog r LEFT JOIN oplog n ON n.seq = (SELECT o.seq FROM oplog o WHERE o.node = r.node AND (o.wall, o.logic) > (r.wall, r.logic)
		ORDER BY o.wall, o.logic LIMIT 1)
	WHERE r.seq IN rm`

// compactBoundariesOf: which of the hashes (a JSON array) key a boundary.
// Only those are deleted under the writer lock.
const compactBoundariesOf = `SELECT hash FROM link_boundaries WHERE hash IN (SELECT value FROM json_each(?1))`

// chainReadMax bounds one author's ordered read in a batch (a variable
// for tests).
var chainReadMax = 4 * compactBatch

// stampSpan is the oldest and newest stamp of an author's removed entries
// in a batch.
type stampSpan struct {
	loWall, hiWall   int64
	loLogic, hiLogic int32
}

func (sp *stampSpan) add(wall int64, logic int32) {
	if wall < sp.loWall || wall == sp.loWall && logic < sp.loLogic {
		sp.loWall, sp.loLogic = wall, logic
	}
	if wall > sp.hiWall || wall == sp.hiWall && logic > sp.hiLogic {
		sp.hiWall, sp.hiLogic = wall, logic
	}
}

// chainRow is an author's entry as compactChain reads it.
type chainRow struct {
	seq        int64
	wall       int64
	logic      int32
	hash, prev string
	link       []byte
	proof      []byte // the proof column: a proof, a bridge or NULL
}

func (r *chainRow) after(wall int64, logic int32) bool {
	return r.wall > wall || r.wall == wall && r.logic > logic
}

// removedRows are a batch's removed entries: hash and stamp by seq.
type removedRows struct {
	hashes map[int64]string
	stamps map[int64]domain.Timestamp
}

// planBoundaries fills plan's boundaries and bridges and the prev hashes
// whose boundaries give way, for the removed entries, whose authors'
// stamps spans holds.
func (s *Store) planBoundaries(ctx context.Context, tx *sql.Tx, st *compactStmts, plan *compactPlan, removed removedRows, spans map[string]*stampSpan) error {
	var prevs []string
	hashes := removed.hashes
	settled := make(map[int64]bool, len(hashes))
	chain, before := tx.StmtContext(ctx, st.chain), tx.StmtContext(ctx, st.before)
	var holes []holeAfter
	bridged := make(map[int64]bool, len(hashes)) // removed entries whose hole was looked at
	for author, span := range spans {
		rows, complete, err := readChain(ctx, chain, author, span)
		if err != nil {
			return err
		}
		if author != plan.self {
			prev, err := readBefore(ctx, before, author, span.loWall, span.loLogic)
			if err != nil {
				return err
			}
			holes = append(holes, findHoles(append(prev, rows...), hashes, complete, bridged)...)
		}
		next := -1 // the first row with a greater stamp than row i's
		for i := len(rows) - 1; i >= 0; i-- {
			r := &rows[i]
			if i+1 < len(rows) && rows[i+1].after(r.wall, r.logic) {
				next = i + 1
			}
			hash, removed := hashes[r.seq]
			if !removed || next < 0 && !complete {
				continue
			}
			settled[r.seq] = true
			if r.prev != "" {
				prevs = append(prevs, r.prev)
			}
			if next < 0 {
				continue
			}
			n := &rows[next]
			if _, gone := hashes[n.seq]; n.prev == hash && !gone {
				plan.boundaries = append(plan.boundaries, boundary{hash: hash, link: r.link, seq: r.seq, next: n.seq})
			}
		}
	}
	var rest []int64
	for _, seq := range plan.removed {
		if !settled[seq] {
			rest = append(rest, seq)
		}
	}
	if len(rest) > 0 {
		more, err := linksOneByOne(ctx, tx.StmtContext(ctx, st.links), plan, hashes, rest)
		if err != nil {
			return err
		}
		prevs = append(prevs, more...)
	}
	more, err := holesOneByOne(ctx, chain, before, plan, removed, bridged)
	if err != nil {
		return err
	}
	if err := planBridges(ctx, tx.StmtContext(ctx, st.digests), plan, append(holes, more...)); err != nil {
		return err
	}
	return boundariesOf(ctx, tx.StmtContext(ctx, st.boundariesOf), plan, prevs)
}

// readBefore reads author's entry before a stamp (none: the chain starts
// there).
func readBefore(ctx context.Context, before *sql.Stmt, author string, wall int64, logic int32) ([]chainRow, error) {
	var r chainRow
	err := before.QueryRowContext(ctx, author, wall, logic).
		Scan(&r.seq, &r.wall, &r.logic, storedHash{&r.hash}, storedHash{&r.prev}, &r.link, &r.proof)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return []chainRow{r}, nil
}

// readChain reads author's entries from span's oldest stamp up to the
// first after its newest, or chainReadMax rows (complete false).
func readChain(ctx context.Context, chain *sql.Stmt, author string, span *stampSpan) (_ []chainRow, complete bool, _ error) {
	rows, err := chain.QueryContext(ctx, author, span.loWall, span.loLogic)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []chainRow
	for rows.Next() {
		if len(out) == chainReadMax {
			return out, false, nil
		}
		var r chainRow
		if err := rows.Scan(&r.seq, &r.wall, &r.logic, storedHash{&r.hash}, storedHash{&r.prev}, &r.link, &r.proof); err != nil {
			return nil, false, err
		}
		out = append(out, r)
		if r.after(span.hiWall, span.hiLogic) {
			break
		}
	}
	return out, true, rows.Err()
}

// linksOneByOne settles the removed seqs the ordered reads left, with one
// lookup each, and returns their prev hashes.
func linksOneByOne(ctx context.Context, links *sql.Stmt, plan *compactPlan, hashes map[int64]string, seqs []int64) ([]string, error) {
	arg, err := json.Marshal(seqs)
	if err != nil {
		return nil, err
	}
	rows, err := links.QueryContext(ctx, string(arg))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var prevs []string
	for rows.Next() {
		var b boundary
		var prev sql.NullString
		var next sql.NullInt64
		var chains bool
		if err := rows.Scan(&b.seq, &prev, &b.link, &next, &chains); err != nil {
			return nil, err
		}
		if prev.String != "" {
			prevs = append(prevs, prev.String)
		}
		if _, gone := hashes[next.Int64]; next.Valid && chains && !gone {
			b.hash, b.next = hashes[b.seq], next.Int64
			plan.boundaries = append(plan.boundaries, b)
		}
	}
	return prevs, rows.Err()
}

// boundariesOf keeps in plan the prevs that key a boundary.
func boundariesOf(ctx context.Context, of *sql.Stmt, plan *compactPlan, prevs []string) error {
	if len(prevs) == 0 {
		return nil
	}
	arg, err := json.Marshal(prevs)
	if err != nil {
		return err
	}
	rows, err := of.QueryContext(ctx, string(arg))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return err
		}
		plan.prevHashes = append(plan.prevHashes, h)
	}
	return rows.Err()
}
