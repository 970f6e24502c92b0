package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"math"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Merging a peer's snapshot file into a store that holds data
// (ports.SnapshotFileMerger): the node is behind a Go peer that no longer
// holds the entries it lacks. The file passes exactly the checks of an
// install into an empty store (receiveVerified), so every entry in it is
// proven by its author's key and every document row is the version of a
// proven entry. The merge then takes, per author, the file's entries newer
// than the author's head here, as remote entries are taken (ApplyRemote's
// applyLWW or applyEach): documents resolved against ours, heads moved to
// those entries only, links, proofs and legacy marks kept. Taking the
// entries, not only the documents and heads, keeps every chain provable
// onward: this node's own snapshot files and pages prove what it merged,
// as the peer's did. Where the taken entries do not follow the author's
// head here (the peer compacted or pruned the entries between), the
// predecessor's hash and link (as the file knows it) go to
// link_boundaries, as compaction records its holes, so the chain resumes
// there for the verifier and for the proofs this node serves. The entry
// before such a hole keeps the bridge the file gives it (compactbridges.go)
// when its digests reach that link: without it this node's own file would
// be refused across the hole by the next node.
//
// One kind of row has no entry: the marker a collected delete leaves (a
// deleted row without content; the install leaves it out). Left out of a
// merge, the document it deleted would live on here. It is taken (by
// last-write-wins, as a delete) only where its author's proven chain in
// the file says entries were removed: its stamp strictly inside a hole of
// that chain, in a part of it this node never held (after the author's
// head here). Which document such a removed entry deleted nothing proves;
// that is the trust a merge still gives a Go peer (SECURITY.md).

var _ ports.SnapshotFileMerger = (*Store)(nil)

// receivedFile is a snapshot file received beside the database and
// verified whole.
type receivedFile struct {
	path     string
	size     int64
	verified verifiedFile
}

// receiveVerified has fetch write a file beside the database and runs every
// check of a snapshot file on it; on error the file is removed.
func (s *Store) receiveVerified(ctx context.Context, op string, check ports.SnapshotFileCheck, fetch func(w io.Writer) error) (f receivedFile, err error) {
	removeStale(s.opts.Path + incomingSuffix)
	f.path = s.opts.Path + incomingSuffix + randomSuffix()
	defer func() {
		if err != nil {
			removeDBFiles(f.path)
		}
	}()
	if f.size, err = receiveFile(f.path, fetch); err != nil {
		return f, domain.Wrap(domain.CodeOf(err), op, err)
	}
	if err = checkSnapshotHeader(ctx, f.path, check); err != nil {
		return f, err
	}
	// Checked whole before this node writes anything into the file or its
	// store; writers go on meanwhile (the install or merge looks at the
	// store again).
	f.verified, err = verifySnapshotData(ctx, f.path, check, s.knownKeys)
	return f, err
}

// ReceiveSnapshotFile receives and verifies a peer's snapshot file for a
// merge; see ports.SnapshotFileMerger.
func (s *Store) ReceiveSnapshotFile(ctx context.Context, check ports.SnapshotFileCheck, fetch func(w io.Writer) error) (ports.VerifiedSnapshotFile, error) {
	f, err := s.receiveVerified(ctx, "sqlite.ReceiveSnapshotFile", check, fetch)
	if err != nil {
		return nil, err
	}
	return &mergeFile{s: s, receivedFile: f}, nil
}

// mergeFile is a verified file waiting to be merged.
type mergeFile struct {
	s *Store
	receivedFile
}

func (m *mergeFile) Size() int64 { return m.size }

func (m *mergeFile) Close() error {
	removeDBFiles(m.path)
	return nil
}

// Merge takes the file's entries newer than this store's heads in one
// transaction; see ports.VerifiedSnapshotFile.
func (m *mergeFile) Merge(ctx context.Context, r domain.Resolver) (ports.ApplyResult, error) {
	const op = "sqlite.MergeSnapshotFile"
	s := m.s
	db, err := openSnapshotFile(m.path)
	if err != nil {
		return ports.ApplyResult{}, mapErr(op, err)
	}
	defer db.Close()
	lww := isLWW(r)
	if lww {
		if err := s.stmts.prepareRows(ctx, s.writer.DB, s.opts.BatchSize); err != nil {
			return ports.ApplyResult{}, mapErr(op, err)
		}
	}
	var res ports.ApplyResult
	var markers []domain.Entry
	err = s.write(ctx, op, func(t *writeTx) error {
		res = ports.ApplyResult{}
		if err := t.pinFileKeys(m.verified.newKeys); err != nil {
			return err
		}
		taken, holes, bridges, err := newerThanHeads(ctx, db, t)
		if err != nil {
			return err
		}
		if markers, err = markersInHoles(ctx, db, holes); err != nil {
			return err
		}
		changedAt := map[docKey]int{}
		for start := 0; start < len(taken); start += s.opts.BatchSize {
			batch := taken[start:min(start+s.opts.BatchSize, len(taken))]
			part := ports.ApplyResult{}
			if err := t.keepPrevLinks(batch); err != nil {
				return err
			}
			if lww {
				err = applyLWW(t, batch, &part)
			} else {
				err = applyEach(t, r, batch, &part)
			}
			if err != nil {
				return err
			}
			res.Applied = append(res.Applied, part.Applied...)
			res.Skipped += part.Skipped
			for _, doc := range part.Changed {
				k := docKey{doc.Collection, doc.Key}
				if j, ok := changedAt[k]; ok {
					res.Changed[j] = doc
					continue
				}
				changedAt[k] = len(res.Changed)
				res.Changed = append(res.Changed, doc)
			}
		}
		if err := t.keepBridges(bridges); err != nil {
			return err
		}
		if len(markers) == 0 {
			return nil
		}
		changed, err := t.resolveDocuments(r, lww, markers)
		for _, doc := range changed {
			if j, ok := changedAt[docKey{doc.Collection, doc.Key}]; ok {
				res.Changed[j] = doc
				continue
			}
			res.Changed = append(res.Changed, doc)
		}
		return err
	})
	if err != nil {
		return ports.ApplyResult{}, err
	}
	// Merged already: should this fail, the entries wait for a
	// compaction pass (they are superseded) and the error is only logged.
	if err := s.compactUnderMarkers(ctx, markers); err != nil {
		s.log.Warn("merge: the entries a collected delete supersedes stay until compaction", zap.Error(err))
	}
	return res, nil
}

// pinFileKeys pins the keys the file's proofs presented for authors no key
// was known for at the verification; a key pinned since (a handshake) must
// be the same, or nothing is merged.
func (t *writeTx) pinFileKeys(keys map[string][]byte) error {
	now := time.Now().UnixMilli()
	for author, key := range keys {
		if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO peer_keys (node_id, public_key, first_seen) VALUES (?, ?, ?)
			ON CONFLICT (node_id) DO NOTHING`, author, key, now); err != nil {
			return err
		}
		var pinned []byte
		if err := t.tx.QueryRowContext(t.ctx, `SELECT public_key FROM peer_keys WHERE node_id = ?`, author).Scan(&pinned); err != nil {
			return err
		}
		if !bytes.Equal(pinned, key) {
			return domain.Errorf(domain.CodeUnauthorized, "", "snapshot file refused: entries of %q are proven by key %s, not the key pinned for it since",
				author, domain.KeyFingerprint(key))
		}
	}
	return nil
}

// newerThanHeads reads, author by author in chain order, the file's entries
// newer than the author's head in the store, and records in link_boundaries
// where one does not follow the entry before it here (a hole the peer's
// compaction or pruning left); the first entry after a head whose entry is
// not held carries its link before (keepPrevLinks keeps it). It returns
// the holes of each author's chain it read: stamps strictly between an
// entry (or our head) and the next one there, which does not follow it;
// and the bridges the entries before those holes keep.
func newerThanHeads(ctx context.Context, db *sql.DB, t *writeTx) ([]domain.Entry, map[string][]stampHole, []keptBridge, error) {
	clock, err := fileClock(ctx, db)
	if err != nil {
		return nil, nil, nil, err
	}
	fileBounds, err := queryMap[[]byte](ctx, db, `SELECT hash, link FROM link_boundaries`)
	if err != nil {
		return nil, nil, nil, err
	}
	var kept []keptBridge
	holes := map[string][]stampHole{}
	authors := make([]string, 0, len(clock))
	for a := range clock {
		authors = append(authors, a)
	}
	slices.Sort(authors)
	var taken []domain.Entry
	for _, author := range authors {
		fh := clock[author]
		h, held := t.effectiveHead(author)
		if held && !h.before(fh.wall, fh.logic) {
			continue // we hold this author's history up to there
		}
		from := head{wall: math.MinInt64}
		if held {
			from = h
		}
		rows, err := db.QueryContext(ctx, `SELECT `+entryCols+` FROM oplog
			WHERE node = ? AND (wall, logic) > (?, ?) ORDER BY wall, logic, seq`, author, from.wall, from.logic)
		if err != nil {
			return nil, nil, nil, err
		}
		run, err := scanEntries(rows)
		if err != nil {
			return nil, nil, nil, err
		}
		bridges, err := fileBridges(ctx, db, author, from)
		if err != nil {
			return nil, nil, nil, err
		}
		prev := h.hash // "" when no head is held
		for i := range run {
			e := &run[i]
			switch {
			case e.PrevHash == "" || e.PrevHash == prev && i > 0:
			case i == 0 && e.PrevHash == prev:
				// Follows our head, which may be a boundary we do not
				// hold the entry of: keepPrevLinks keeps the link before.
				if e.PrevLink, err = fileLinkOf(ctx, db, author, from, e.PrevHash, fileBounds); err != nil {
					return nil, nil, nil, err
				}
			case i > 0 && run[i-1].Hash == "":
				// After a hashless (v4) entry nothing chains: the
				// verifier resumes there.
			default:
				lo := from
				if i > 0 {
					lo = head{wall: run[i-1].Stamp.Wall, logic: run[i-1].Stamp.Logical}
				}
				holes[author] = append(holes[author], stampHole{lo: lo, hi: e.Stamp})
				link := fileBounds[e.PrevHash]
				if i == 0 {
					if link, err = fileLinkOf(ctx, db, author, from, e.PrevHash, fileBounds); err != nil {
						return nil, nil, nil, err
					}
				}
				if _, err := t.tx.ExecContext(ctx, `INSERT OR IGNORE INTO link_boundaries (hash, link) VALUES (?, ?)`,
					e.PrevHash, link); err != nil {
					return nil, nil, nil, err
				}
				b, ok := bridges[prev]
				if !ok || prev == "" {
					break
				}
				b.author, b.at, b.link = author, lo, nil
				if i > 0 {
					b.link = run[i-1].Link
				} else if b.link, err = t.headLink(author, h); err != nil {
					return nil, nil, nil, err
				}
				if b.reaches(link) {
					kept = append(kept, b)
				}
			}
			prev = e.Hash
			e.Seq = 0
		}
		taken = append(taken, run...)
	}
	return taken, holes, kept, nil
}

// stampHole is a stretch of an author's chain the file no longer holds:
// the stamps strictly after lo and before hi.
type stampHole struct {
	lo head
	hi domain.Timestamp
}

func (h stampHole) holds(ts domain.Timestamp) bool {
	return h.lo.before(ts.Wall, ts.Logical) && (ts.Wall < h.hi.Wall || ts.Wall == h.hi.Wall && ts.Logical < h.hi.Logical)
}

// markersWithoutEntry lists the rows a collected delete leaves (deleted,
// no content) that no entry of the file holds.
const markersWithoutEntry = `SELECT d.collection, d.key, d.wall, d.logic, d.node, d.expires_at FROM documents d
	WHERE d.deleted <> 0 AND d.data IS NULL AND NOT EXISTS (SELECT 1 FROM oplog o WHERE o.node = d.node
		AND o.wall = d.wall AND o.logic = d.logic AND o.collection = d.collection AND o.key = d.key)`

// markersInHoles returns, as deletes, the file's collected-delete markers
// whose stamps lie inside a hole of their author's chain that
// newerThanHeads found.
func markersInHoles(ctx context.Context, db *sql.DB, holes map[string][]stampHole) ([]domain.Entry, error) {
	if len(holes) == 0 {
		return nil, nil
	}
	var out []domain.Entry
	err := forEachRow(ctx, db, markersWithoutEntry, func(r *sql.Rows) error {
		d := domain.Document{Deleted: true}
		if err := r.Scan(&d.Collection, &d.Key, &d.Stamp.Wall, &d.Stamp.Logical, &d.Stamp.Node, &d.ExpiresAt); err != nil {
			return err
		}
		for _, h := range holes[d.Stamp.Node] {
			if h.holds(d.Stamp) {
				out = append(out, domain.EntryFromDocument(&d))
				break
			}
		}
		return nil
	})
	return out, err
}

// fileLinkOf is the link of the file's entry hash, the one of author's
// chain at or before from, or the link the file recorded for a hole's
// boundary (nil: unknown).
func fileLinkOf(ctx context.Context, db *sql.DB, author string, from head, hash string, bounds map[string][]byte) ([]byte, error) {
	var got string
	var link []byte
	err := db.QueryRowContext(ctx, `SELECT hash, link FROM oplog WHERE node = ? AND (wall, logic) <= (?, ?)
		ORDER BY wall DESC, logic DESC, seq DESC LIMIT 1`, author, from.wall, from.logic).Scan(storedHash{&got}, &link)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	case got == hash:
		return link, nil
	}
	return bounds[hash], nil
}

// keptBridge is a bridge of the file (compactbridges.go) on the entry hash
// of author at stamp at, whose link here is link.
type keptBridge struct {
	author  string
	at      head
	hash    string
	link    []byte
	column  []byte // as the file stores it
	digests [][]byte
}

// reaches tells whether the bridge's digests lead from its entry's link to
// boundary, the link the entry after the hole follows. Nothing more is
// trusted: a verifier only hashes through a bridge towards a signature.
func (b keptBridge) reaches(boundary []byte) bool {
	return b.link != nil && boundary != nil && bytes.Equal(domain.LinkAfter(b.link, b.digests), boundary)
}

// fileBridges reads the bridges the file holds on author's entries from
// stamp from on (the head here included), by entry hash.
func fileBridges(ctx context.Context, db *sql.DB, author string, from head) (map[string]keptBridge, error) {
	out := map[string]keptBridge{}
	err := forEachRow(ctx, db, `SELECT hash, proof FROM oplog WHERE node = ? AND (wall, logic) >= (?, ?)
		AND substr(proof, 1, 1) = x'02'`, func(r *sql.Rows) error {
		var b keptBridge
		if err := r.Scan(storedHash{&b.hash}, &b.column); err != nil {
			return err
		}
		_, digests, err := decodeStoredProof(b.column)
		if err != nil {
			return err
		}
		b.digests = digests
		out[b.hash] = b
		return nil
	}, author, from.wall, from.logic)
	return out, err
}

// keepBridges writes the bridges onto the entries here (taken by this
// merge, or the head held before it) whose proof column is free.
func (t *writeTx) keepBridges(bridges []keptBridge) error {
	for _, b := range bridges {
		if _, err := t.tx.ExecContext(t.ctx, `UPDATE oplog SET proof = ? WHERE node = ? AND wall = ? AND logic = ? AND hash = ?
			AND proof IS NULL`, b.column, b.author, b.at.wall, b.at.logic, hashArg(b.hash)); err != nil {
			return err
		}
	}
	return nil
}
