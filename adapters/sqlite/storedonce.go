package sqlite

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// Each document's bytes are stored once (schema 7). The documents table
// holds the JSON of every live document (its expression indexes read it
// there), so an oplog entry that is its document's current version keeps
// no data of its own: readers take it from the document row whose stamp
// is the entry's (entryData). When that row moves on (a newer version, a
// merge, an expiry, a delete of the row) the triggers of migration 6 → 7
// write the old bytes back into the entry, which peers may still ask for
// until compaction removes it. The batch paths write an entry that wins
// its document without data (bareWinners, upsertWinners); the paths that
// write entries ahead of their rows drop the copies once the rows are
// written (dropCopies).
//
// Hashes are kept as their 32 bytes when they are canonical (64 lowercase
// hex digits, what domain.ComputeHash makes); anything else a peer sent is
// kept as the text it was, so every hash reads back exactly as it came.
// hashArg and storedHash convert at the boundary; the small tables that
// name hashes (vclock, pruned, link_boundaries) keep text.
//
// An entry that chains from the row just before it (seq - 1: a batch, a
// run of local writes) keeps no prev_hash: it is that row's hash
// (entryPrevHash). When that row goes (compaction, Prune), the trigger
// oplog_removed writes it into its successor.

// entryPrevHash reads an entry's prev_hash.
const entryPrevHash = `coalesce(oplog.prev_hash, (SELECT p.hash FROM oplog p WHERE p.seq = oplog.seq - 1))`

// prevHashOf is entryPrevHash for an oplog row named alias.
func prevHashOf(alias string) string {
	return `coalesce(` + alias + `.prev_hash, (SELECT p.hash FROM oplog p WHERE p.seq = ` + alias + `.seq - 1))`
}

// entryData reads an entry's JSON: its own copy, or its document row's
// when the row holds the entry's version.
const entryData = `CASE WHEN oplog.data IS NULL AND oplog.op = 0 THEN (SELECT d.data FROM documents d
	WHERE d.collection = oplog.collection AND d.key = oplog.key AND d.wall = oplog.wall AND d.logic = oplog.logic AND d.node = oplog.node)
	ELSE oplog.data END`

// The copies kept by entries written ahead of their document rows (the
// pending ones, and those of the one-at-a-time paths) are dropped by
// moving the oplog's tail: its rows are copied out, deleted and written
// back, without the data their rows now hold. Rewriting them in place
// would leave each page as empty as the rows shrank (SQLite rebalances a
// page that an update shrinks only once another write overfills it); the
// tail's rows go back in seq order onto fresh pages, each without the
// prev_hash the row before it names.
const (
	tailTemp = `CREATE TEMP TABLE IF NOT EXISTS oplog_tail (seq INTEGER PRIMARY KEY, collection, key, op, data, wall, logic, node,
		hash, prev_hash, link, proof, legacy, expires_at)`
	tailCopy = `INSERT INTO temp.oplog_tail SELECT seq, collection, key, op,
		CASE WHEN op = 0 AND data = (SELECT d.data FROM documents d WHERE d.collection = oplog.collection AND d.key = oplog.key
			AND d.wall = oplog.wall AND d.logic = oplog.logic AND d.node = oplog.node) THEN NULL ELSE data END,
		wall, logic, node, hash,
		CASE WHEN prev_hash = (SELECT p.hash FROM oplog p WHERE p.seq = oplog.seq - 1) THEN NULL ELSE prev_hash END,
		link, proof, legacy, expires_at
		FROM oplog WHERE seq >= ?1`
	tailDelete  = `DELETE FROM oplog WHERE seq >= ?1`
	tailRestore = `INSERT INTO oplog (seq, collection, key, op, data, wall, logic, node, hash, prev_hash, link, proof, legacy, expires_at)
		SELECT seq, collection, key, op, data, wall, logic, node, hash, prev_hash, link, proof, legacy, expires_at
		FROM temp.oplog_tail ORDER BY seq`
	tailDone = `DELETE FROM temp.oplog_tail`
)

// dropCopies moves the oplog's tail from seq from on (every row of it
// written after the materialized mark, so few), dropping the copies of the
// entries whose document rows hold their bytes.
func (t *writeTx) dropCopies(from int64) error {
	for _, q := range []string{tailTemp, tailDone, tailCopy, tailDelete, tailRestore, tailDone} {
		var args []any
		if q == tailCopy || q == tailDelete {
			args = []any{from}
		}
		if _, err := t.tx.ExecContext(t.ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// dropPendingCopies is dropCopies for the entries after the materialized
// mark, once materializePending wrote their documents.
func (t *writeTx) dropPendingCopies() error {
	var mark sql.NullInt64
	err := t.tx.QueryRowContext(t.ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?`, metaMaterializedSeq).Scan(&mark)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return t.dropCopies(mark.Int64 + 1)
}

// hashArg is how a hash is stored and looked up: a canonical hash as its
// bytes, anything else as text.
func hashArg(h string) any {
	if len(h) != 64 {
		return h
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return h
		}
	}
	b, _ := hex.DecodeString(h)
	return b
}

// hashText is the SQL for a stored hash column as the text the domain
// uses, for the statements that copy it into a table of text hashes.
func hashText(col string) string {
	return `CASE typeof(` + col + `) WHEN 'blob' THEN lower(hex(` + col + `)) ELSE ` + col + ` END`
}

// storedHash scans a stored hash into the domain's text.
type storedHash struct{ dst *string }

func (h storedHash) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*h.dst = ""
	case string:
		*h.dst = v
	case []byte:
		if len(v) == 32 {
			*h.dst = hex.EncodeToString(v)
		} else {
			*h.dst = string(v)
		}
	default:
		return fmt.Errorf("hash stored as %T", v)
	}
	return nil
}
