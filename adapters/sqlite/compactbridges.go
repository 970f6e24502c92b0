package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

// Bridges: what proving needs across the holes compaction makes. A
// receiver (a snapshot file's verifier, or a peer pulling entries) proves
// an author's held entries by hashing their links up to a link the author
// signed (domain/authorproof.go). A hole in the chain stops that: the
// digests of the removed entries are gone, so the entries before the hole
// reach no signature unless the last of them carries one. So when a batch
// removes entries right after an entry p it keeps, of p's author, p's
// proof column (free: p carries no proof) gets
//
//   - the proof of the first removed entry that carries one, moved, with
//     the digests from p up to that entry in front of its tail (p then
//     proves itself, as the removed entry did), or else
//   - a bridge (proofcodec.go): the digests of every removed entry between
//     p and the next entry held, so a verifier hashes across the hole and
//     goes on to the proof after it.
//
// Either holds only digests of removed entries (besides the moved
// proof's own tail), so what is kept is at most a digest per removed
// entry (and at most maxBridge in a bridge). Each removed entry's link is
// checked against the one before it as a bridge is built; a chain that
// does not follow (an entry without link, a link from a boundary) keeps no
// bridge, and the hole cuts the chain as before. None of it is trusted by
// a verifier: a bridge only leads to a signature, which covers it.

// compactBefore reads an author's entry just before a stamp, in the order
// compactChain reads: the entry a hole opening at that stamp follows.
var compactBefore = `SELECT o.seq, o.wall, o.logic, o.hash, ` + prevHashOf("o") + `, o.link, o.proof FROM oplog o
	WHERE o.node = ?1 AND (o.wall, o.logic) < (?2, ?3) ORDER BY o.wall DESC, o.logic DESC, o.collection DESC, o.key DESC LIMIT 1`

// compactDigests reads what the digests of the removed seqs (a JSON
// array) are made of.
const compactDigests = `SELECT seq, hash, expires_at, ` + entryData + ` FROM oplog WHERE seq IN (SELECT value FROM json_each(?1))`

// compactBridge writes a bridge or moved proof, unless the column changed
// since the batch read it (a proof stored meanwhile stays).
const compactBridge = `UPDATE oplog SET proof = ?2 WHERE seq = ?1 AND proof IS ?3`

// bridge is a proof column to write: seq's column, read as old, becomes
// value (nil: NULL).
type bridge struct {
	seq        int64
	old, value []byte
}

// holeAfter is a run of removed entries of one author (in chain order)
// after the entry p that stays.
type holeAfter struct {
	p       *chainRow
	removed []*chainRow
}

// findHoles returns the runs of removed rows (hashes) after a held row with
// a link and no proof, in rows (one author's, in chain order, the entry
// before the first removed one first), and marks in looked the removed
// rows of every run it saw whole (with an entry before it or not). A run
// that reaches the end of an incomplete read is left out: where it ends is
// not known.
func findHoles(rows []chainRow, hashes map[int64]string, complete bool, looked map[int64]bool) []holeAfter {
	var holes []holeAfter
	for i := 0; i < len(rows); {
		if _, gone := hashes[rows[i].seq]; !gone {
			i++
			continue
		}
		j := i
		for ; j < len(rows); j++ {
			if _, gone := hashes[rows[j].seq]; !gone {
				break
			}
		}
		if j < len(rows) || complete {
			h := holeAfter{}
			for k := i; k < j; k++ {
				looked[rows[k].seq] = true
				h.removed = append(h.removed, &rows[k])
			}
			if i > 0 && rows[i-1].link != nil {
				if proof, _, err := decodeStoredProof(rows[i-1].proof); err == nil && proof == nil {
					h.p = &rows[i-1]
					holes = append(holes, h)
				}
			}
		}
		i = j
	}
	return holes
}

// holesOneByOne finds the holes of the removed entries the ordered reads
// left (an author's removed entries far apart in its chain), each from the
// entry before it to the first entry held after it.
func holesOneByOne(ctx context.Context, chain, before *sql.Stmt, plan *compactPlan, removed removedRows, looked map[int64]bool) ([]holeAfter, error) {
	var rest []int64
	for _, seq := range plan.removed {
		if !looked[seq] && (plan.self == "" || removed.stamps[seq].Node != plan.self) {
			rest = append(rest, seq)
		}
	}
	// In chain order, so a hole is found from its first entry.
	slices.SortFunc(rest, func(a, b int64) int {
		x, y := removed.stamps[a], removed.stamps[b]
		return cmp.Or(strings.Compare(x.Node, y.Node), cmp.Compare(x.Wall, y.Wall), cmp.Compare(x.Logical, y.Logical), cmp.Compare(a, b))
	})
	var holes []holeAfter
	for _, seq := range rest {
		if looked[seq] {
			continue
		}
		st := removed.stamps[seq]
		prev, err := readBefore(ctx, before, st.Node, st.Wall, st.Logical)
		if err != nil {
			return nil, err
		}
		rows, complete, err := readHole(ctx, chain, st, seq, removed.hashes)
		if err != nil {
			return nil, err
		}
		holes = append(holes, findHoles(append(prev, rows...), removed.hashes, complete, looked)...)
		looked[seq] = true
	}
	return holes, nil
}

// readHole reads an author's entries from the removed entry seq (at stamp
// st) to the first held one after it.
func readHole(ctx context.Context, chain *sql.Stmt, st domain.Timestamp, seq int64, hashes map[int64]string) (_ []chainRow, complete bool, _ error) {
	rows, err := chain.QueryContext(ctx, st.Node, st.Wall, st.Logical)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []chainRow
	for rows.Next() {
		var r chainRow
		if err := rows.Scan(&r.seq, &r.wall, &r.logic, storedHash{&r.hash}, storedHash{&r.prev}, &r.link, &r.proof); err != nil {
			return nil, false, err
		}
		if len(out) == 0 && r.seq != seq {
			continue // the entries sharing its stamp before it
		}
		out = append(out, r)
		if _, gone := hashes[r.seq]; !gone {
			break
		}
	}
	return out, true, rows.Err()
}

// planBridges adds to plan the bridges of holes.
func planBridges(ctx context.Context, digestsOf *sql.Stmt, plan *compactPlan, holes []holeAfter) error {
	if len(holes) == 0 {
		return nil
	}
	var seqs []int64
	for _, h := range holes {
		for _, r := range h.removed {
			seqs = append(seqs, r.seq)
		}
	}
	digests, err := readDigests(ctx, digestsOf, seqs)
	if err != nil {
		return err
	}
	for _, h := range holes {
		if b, ok := bridgeOf(h, digests); ok {
			plan.bridges = append(plan.bridges, b)
		}
	}
	return nil
}

// readDigests reads the digests of seqs.
func readDigests(ctx context.Context, digestsOf *sql.Stmt, seqs []int64) (map[int64][]byte, error) {
	arg, err := json.Marshal(seqs)
	if err != nil {
		return nil, err
	}
	rows, err := digestsOf.QueryContext(ctx, string(arg))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int64][]byte, len(seqs))
	for rows.Next() {
		var seq int64
		var e domain.Entry
		var data sql.RawBytes
		if err := rows.Scan(&seq, storedHash{&e.Hash}, &e.ExpiresAt, &data); err != nil {
			return nil, err
		}
		e.Data = data
		out[seq] = domain.EntryDigest(&e)
	}
	return out, rows.Err()
}

// maxBridge bounds the digests a bridge holds. Each batch that extends a
// bridge rewrites it, so a hole that keeps growing (a document written
// once, then a long run of its author's later entries removed) would cost
// every batch more; past the bound the hole cuts the chain, as holes did
// before bridges.
const maxBridge = 8 * compactBatch

// bridgeOf is what h's entry p keeps: a moved proof or a bridge, or NULL
// for a bridge it held that no longer reaches across its hole (ok false:
// nothing to write).
func bridgeOf(h holeAfter, digests map[int64][]byte) (_ bridge, ok bool) {
	_, acc, err := decodeStoredProof(h.p.proof)
	if err != nil {
		return bridge{}, false
	}
	had := acc != nil
	failed := func() (bridge, bool) {
		return bridge{seq: h.p.seq, old: h.p.proof}, had
	}
	// Each removed entry's link must follow the one before it. After a
	// bridge (checked when it was kept) the next is taken as it is:
	// hashing the bridge again in each batch would cost as it grows.
	link := h.p.link
	if acc != nil {
		link = nil
	}
	for _, r := range h.removed {
		d := digests[r.seq]
		if d == nil || r.link == nil || link != nil && !bytes.Equal(domain.NextLink(link, d), r.link) {
			return failed()
		}
		link = r.link
		acc = append(acc, d)
		proof, more, err := decodeStoredProof(r.proof)
		switch {
		case err != nil:
			return failed()
		case proof != nil:
			moved := *proof
			moved.Tail = append(acc, proof.Tail...)
			if len(moved.Tail) > domain.MaxProofTail {
				return failed()
			}
			return bridge{seq: h.p.seq, old: h.p.proof, value: encodeProof(&moved).([]byte)}, true
		case more != nil:
			link = nil
		}
		if acc = append(acc, more...); len(acc) > maxBridge {
			return failed()
		}
	}
	return bridge{seq: h.p.seq, old: h.p.proof, value: encodeBridge(acc)}, true
}
