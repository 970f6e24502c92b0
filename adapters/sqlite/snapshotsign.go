package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// A store keeps no proofs of its own node's entries (the node signs them
// as it serves them, app/proofs.go), so a copy of it would hold its own
// chain unproven, and a receiver takes no entry unproven. signOwnChain
// signs, in the copy, the newest entry of each stretch of own's chain that
// a receiver verifies in one piece (snapshotfile_verify.go): at the head,
// and before each place where the chain stops following itself (a hole
// compaction or pruning left, an entry held without a link). One signature
// per stretch: a chain never compacted costs one.

// ownChainRows reads the store's own entries in chain order, each with
// whether it names its predecessor (NULL prev_hash: the row before it by
// seq, storedonce.go).
const ownChainRows = `SELECT seq, hash, prev_hash IS NULL, coalesce(prev_hash, ''), link FROM oplog
	WHERE node = ? ORDER BY wall, logic, seq`

// ownEntry is what signing needs of one of the store's own entries.
type ownEntry struct {
	seq  int64
	hash string
	link []byte
}

// ownHead reads the newest of author's entries (through the unique
// index, newest first).
const ownHead = `SELECT seq, hash, link FROM oplog WHERE node = ? ORDER BY wall DESC, logic DESC LIMIT 1`

// mayHaveHoles says whether a chain may stop following itself: entries
// were compacted or pruned away (of some author). Without, every author's
// chain is one stretch.
const mayHaveHoles = `SELECT EXISTS (SELECT 1 FROM link_boundaries) OR EXISTS (SELECT 1 FROM pruned)`

// signOwnChain writes own's proof on the last entry of each stretch of its
// chain in the copy tx writes to.
func signOwnChain(ctx context.Context, tx *sql.Tx, own ports.SnapshotSigner) error {
	if own.Author == "" || own.Sign == nil {
		return nil
	}
	var holes bool
	if err := tx.QueryRowContext(ctx, mayHaveHoles).Scan(&holes); err != nil {
		return err
	}
	var ends []ownEntry
	var err error
	if holes {
		ends, err = ownStretchEnds(ctx, tx, own.Author)
	} else {
		ends, err = ownHeadEntry(ctx, tx, own.Author)
	}
	if err != nil {
		return err
	}
	for _, e := range ends {
		proof := domain.AuthorProof{PublicKey: own.PublicKey, Signature: own.Sign(e.link)}
		if _, err := tx.ExecContext(ctx, `UPDATE oplog SET proof = ? WHERE seq = ?`, encodeProof(&proof), e.seq); err != nil {
			return err
		}
	}
	return nil
}

// ownHeadEntry is author's newest entry, when it has a link to sign.
func ownHeadEntry(ctx context.Context, tx *sql.Tx, author string) ([]ownEntry, error) {
	var e ownEntry
	err := tx.QueryRowContext(ctx, ownHead, author).Scan(&e.seq, storedHash{&e.hash}, &e.link)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	case e.link == nil || e.hash == "":
		return nil, nil
	}
	return []ownEntry{e}, nil
}

// ownStretchEnds returns the last entry of each stretch of author's chain
// that has a link to sign.
func ownStretchEnds(ctx context.Context, tx *sql.Tx, author string) ([]ownEntry, error) {
	rows, err := tx.QueryContext(ctx, ownChainRows, author)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ends []ownEntry
	var cur ownEntry
	held := false
	for rows.Next() {
		var e ownEntry
		var prevBySeq bool
		var prev string
		if err := rows.Scan(&e.seq, storedHash{&e.hash}, &prevBySeq, storedHash{&prev}, &e.link); err != nil {
			return nil, err
		}
		follows := held && cur.link != nil && (prevBySeq && e.seq == cur.seq+1 || !prevBySeq && prev == cur.hash)
		if held && !follows && cur.link != nil && cur.hash != "" {
			ends = append(ends, cur)
		}
		cur, held = e, true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if held && cur.link != nil && cur.hash != "" {
		ends = append(ends, cur)
	}
	return ends, nil
}
