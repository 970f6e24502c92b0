package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"strconv"
	"sync"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// The entries of a snapshot file are read and checked one by one by
// several goroutines, each taking every n-th range of seqs: what each
// entry needs alone (reading it, the peer-entry checks, its hash
// recomputed, its content digest) runs side by side, and only the chain
// (each link follows the one before) is followed in order, by the caller.

// scanRangeSeqs is the seqs one range covers (a variable for the tests);
// scanAhead the ranges a reader may have ready before the caller takes
// them.
var scanRangeSeqs int64 = 2048

const scanAhead = 2

// checkedEntry is an entry of the file with what was checked of it alone.
type checkedEntry struct {
	e      domain.Entry
	hashOK bool   // its hash matches its contents (meaningless without one)
	digest []byte // domain.EntryDigest, for a hashed entry
	row    rowState
}

// rowState is how an entry stands to its document's row (snapshotRows
// reads it beside the entry).
type rowState int8

const (
	rowOlder     rowState = iota // the row holds a newer version
	rowOfEntry                   // the row holds the entry's version, as the entry says
	rowBehind                    // no row, or the row holds an older version
	rowDiffers                   // the row holds the entry's version, not as the entry says
	rowNewMarker                 // the row is a delete without content, of a newer version
)

// snapshotRows reads the entries of a seq range (as entryCols does) with
// their document rows beside them, so the rows are checked in the same
// pass: the row a stored-once entry takes its bytes from is the row it is
// checked against. A prev_hash left out (NULL: the hash of the row before
// by seq, storedonce.go) is filled in by scanRange from the row it read
// before, not looked up again.
var snapshotRows = `SELECT o.seq, o.collection, o.key, o.op,
		CASE WHEN o.data IS NULL AND o.op = 0 AND ` + sameVersion + ` THEN d.data ELSE o.data END,
		o.wall, o.logic, o.node, o.hash, o.prev_hash, o.link, o.proof, o.legacy, o.expires_at,
		CASE WHEN d.key IS NULL OR (o.wall, o.logic, o.node) > (d.wall, d.logic, d.node) THEN ` + itoa(rowBehind) + `
			WHEN ` + sameVersion + ` THEN CASE WHEN (o.data IS NOT NULL AND o.data IS NOT d.data) OR (o.op = 0) = (d.deleted <> 0)
				OR o.expires_at <> d.expires_at THEN ` + itoa(rowDiffers) + ` ELSE ` + itoa(rowOfEntry) + ` END
			WHEN d.deleted <> 0 AND d.data IS NULL THEN ` + itoa(rowNewMarker) + `
			ELSE ` + itoa(rowOlder) + ` END,
		o.prev_hash IS NULL
	FROM oplog o LEFT JOIN documents d ON d.collection = o.collection AND d.key = o.key
	WHERE o.seq >= ? AND o.seq < ? ORDER BY o.seq`

const sameVersion = `(d.node = o.node AND d.wall = o.wall AND d.logic = o.logic)`

func itoa(r rowState) string { return strconv.Itoa(int(r)) }

// scannedRange is one range's entries in seq order; err, when set, is
// what stopped the range after them (the first failure in seq order).
type scannedRange struct {
	entries []checkedEntry
	err     error
}

// scanReaders is how many goroutines read the entries.
func scanReaders() int { return max(1, min(runtime.GOMAXPROCS(0), 4)) }

// scanSnapshotEntries calls each with the file's entries in seq order, each read
// and checked alone by one of the readers; it stops at the first error
// (each's, or a reader's, in seq order).
func scanSnapshotEntries(ctx context.Context, db *sql.DB, check ports.SnapshotFileCheck, each func(*checkedEntry) error) error {
	var lo, hi int64
	if err := db.QueryRowContext(ctx, `SELECT coalesce(min(seq), 0), coalesce(max(seq), -1) FROM oplog`).Scan(&lo, &hi); err != nil {
		return err
	}
	if hi < lo {
		return nil
	}
	size := scanRangeSeqs
	ranges := int((hi-lo)/size) + 1
	readers := min(scanReaders(), ranges)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// The readers are done before this returns: the file is removed after.
	defer wg.Wait()
	defer cancel()
	out := make([]chan scannedRange, readers)
	for i := range out {
		out[i] = make(chan scannedRange, scanAhead)
		wg.Go(func() {
			defer close(out[i])
			for r := i; r < ranges; r += readers {
				from := lo + int64(r)*size
				got := scanRange(ctx, db, check, from, from+size)
				select {
				case out[i] <- got:
				case <-ctx.Done():
					return
				}
				if got.err != nil {
					return
				}
			}
		})
	}
	for r := 0; r < ranges; r++ {
		got, ok := <-out[r%readers]
		if !ok {
			return ctx.Err()
		}
		for i := range got.entries {
			if err := each(&got.entries[i]); err != nil {
				return err
			}
		}
		if got.err != nil {
			return got.err
		}
	}
	return nil
}

// hashBefore is the hash of the oplog row at seq - 1: lastHash when that is
// the row read last (lastSeq), else read ("" when there is none).
func hashBefore(ctx context.Context, db *sql.DB, seq, lastSeq int64, lastHash string) (string, error) {
	if lastSeq == seq-1 && lastSeq > 0 {
		return lastHash, nil
	}
	var h string
	err := db.QueryRowContext(ctx, `SELECT hash FROM oplog WHERE seq = ?`, seq-1).Scan(storedHash{&h})
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return h, err
}

// scanRange reads and checks the entries of seqs [from, to).
func scanRange(ctx context.Context, db *sql.DB, check ports.SnapshotFileCheck, from, to int64) scannedRange {
	const op = "sqlite.VerifySnapshotFile"
	// Sized for the whole range at once: grown by doubling, the entries
	// were copied and collected several times over.
	out := scannedRange{entries: make([]checkedEntry, 0, to-from)}
	rows, err := db.QueryContext(ctx, snapshotRows, from, to)
	if err != nil {
		out.err = mapErr(op, err)
		return out
	}
	defer rows.Close()
	var before struct {
		seq  int64
		hash string
	}
	for rows.Next() {
		var row rowState
		var prevBySeq bool
		e, err := scanEntry(rows, &row, &prevBySeq)
		if err == nil && prevBySeq {
			e.PrevHash, err = hashBefore(ctx, db, e.Seq, before.seq, before.hash)
		}
		if err != nil {
			out.err = domain.Errorf(domain.CodeCorruption, op, "snapshot file refused: unreadable oplog entry: %w", err)
			return out
		}
		before.seq, before.hash = e.Seq, e.Hash
		if check.CheckEntry != nil {
			if err := check.CheckEntry(&e); err != nil {
				out.err = domain.Errorf(domain.CodeOf(err), op, "snapshot file refused: entry %s/%s of %q: %w",
					e.Collection, e.Key, e.Author(), err)
				return out
			}
		}
		c := checkedEntry{e: e, row: row}
		if e.Hash != "" {
			c.hashOK = e.VerifyHash()
			c.digest = domain.EntryDigest(&e)
		}
		out.entries = append(out.entries, c)
	}
	if err := rows.Err(); err != nil {
		out.err = mapErr(op, err)
	}
	return out
}
