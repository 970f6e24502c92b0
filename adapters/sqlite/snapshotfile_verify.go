package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// The checks of a received snapshot file, before anything of it is
// installed, in two parts: checkSnapshotHeader (SQLite's quick_check, the
// schema version, the cluster tag), after which the receiver may write its
// own tables into the file, and verifySnapshotData (the documents against
// the entries, and every author's chain in the oplog — each hash
// recomputed, each entry following the one before it or a boundary the
// file records, each content link recomputed, and the proofs of authors
// verified against the keys the file presents and the ones this node
// already knows). Any failure is a CORRUPTION (UNAUTHORIZED for the
// cluster) error naming it.

// openSnapshotFile opens a received file read-only for its checks.
func openSnapshotFile(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+escapePath(path)+"?mode=ro&_pragma=busy_timeout(5000)&_pragma=mmap_size(1073741824)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(scanReaders() + 1)
	return db, nil
}

// snapshotMeta reads a meta value of the file ("" when absent).
func snapshotMeta(ctx context.Context, db *sql.DB) func(key string) (string, error) {
	return func(key string) (string, error) {
		var v string
		err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return v, err
	}
}

// checkSnapshotHeader checks that the file is a sound SQLite database of
// this schema version, made for this cluster.
func checkSnapshotHeader(ctx context.Context, path string, check ports.SnapshotFileCheck) error {
	const op = "sqlite.VerifySnapshotFile"
	db, err := openSnapshotFile(path)
	if err != nil {
		return mapErr(op, err)
	}
	defer db.Close()
	if err := checkDB(ctx, db.QueryContext, false); err != nil {
		return domain.Errorf(domain.CodeCorruption, op, "snapshot file refused: %w", err)
	}
	meta := snapshotMeta(ctx, db)
	version, err := meta(metaSchemaVersion)
	if err != nil {
		return domain.Errorf(domain.CodeCorruption, op, "snapshot file refused: no meta table: %w", err)
	}
	if version != strconv.Itoa(SchemaVersion) {
		return domain.Errorf(domain.CodeCorruption, op, "snapshot file refused: schema version %q, this store is at %d", version, SchemaVersion)
	}
	cluster, err := meta(metaSnapshotCluster)
	if err != nil {
		return mapErr(op, err)
	}
	if cluster == "" || cluster != check.Cluster {
		return domain.Errorf(domain.CodeUnauthorized, op, "snapshot file refused: it was made by a node of another cluster")
	}
	return nil
}

// verifySnapshotData checks the data of a file that passed
// checkSnapshotHeader.
func verifySnapshotData(ctx context.Context, path string, check ports.SnapshotFileCheck,
	known func(ctx context.Context) (map[string][]byte, error)) error {
	const op = "sqlite.VerifySnapshotFile"
	db, err := openSnapshotFile(path)
	if err != nil {
		return mapErr(op, err)
	}
	defer db.Close()
	meta := snapshotMeta(ctx, db)
	if err := checkMaterialized(ctx, db, meta); err != nil {
		return domain.Errorf(domain.CodeCorruption, op, "snapshot file refused: %w", err)
	}
	keys, err := known(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	v := chainVerifier{known: keys, fileKeys: map[string][]byte{}, authors: map[string]*authorChain{}}
	// Where a held chain may start after: the newest entry pruned (or the
	// head a snapshot started from), per author; and the hashes of entries
	// compacted away whose successor stayed, with their links (nil:
	// unknown).
	if v.boundaryHashes, err = queryMap[string](ctx, db, `SELECT author, hash FROM pruned`); err != nil {
		return mapErr(op, err)
	}
	if v.boundaryLinks, err = queryMap[[]byte](ctx, db, `SELECT hash, link FROM link_boundaries`); err != nil {
		return mapErr(op, err)
	}
	if v.clock, err = fileClock(ctx, db); err != nil {
		return mapErr(op, err)
	}
	if check.CheckStamp != nil {
		for author, h := range v.clock {
			if err := check.CheckStamp(domain.Timestamp{Wall: h.wall, Logical: h.logic, Node: author}); err != nil {
				return domain.Errorf(domain.CodeOf(err), op, "snapshot file refused: the head of %q: %w", author, err)
			}
		}
	}
	err = scanSnapshotEntries(ctx, db, check, func(c *checkedEntry) error {
		if err := v.add(c); err != nil {
			return domain.Errorf(domain.CodeCorruption, op, "snapshot file refused: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := v.finish(); err != nil {
		return domain.Errorf(domain.CodeCorruption, op, "snapshot file refused: %w", err)
	}
	return nil
}

// checkMaterialized requires the documents table to hold every oplog entry
// (the sender copies with writers held off after materializing): the
// receiver installs the rows as they are and replays nothing.
func checkMaterialized(ctx context.Context, db *sql.DB, meta func(string) (string, error)) error {
	var last int64
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM oplog`).Scan(&last); err != nil {
		return err
	}
	v, err := meta(metaMaterializedSeq)
	if err != nil {
		return err
	}
	mark, perr := strconv.ParseInt(v, 10, 64)
	if last > 0 && (perr != nil || mark < last) {
		return domain.Errorf(domain.CodeCorruption, "", "documents hold the oplog up to %q, it goes to %d", v, last)
	}
	return checkRowsMatchEntries(ctx, db)
}

// checkRowsMatchEntries requires each document row whose version has an
// entry in the file to be what that entry says: the chain check reads an
// entry's bytes from its row only while the entry keeps none, so a row
// altered beside an entry that kept (or was handed back) its bytes would
// otherwise go unchecked.
func checkRowsMatchEntries(ctx context.Context, db *sql.DB) error {
	var collection, key string
	err := db.QueryRowContext(ctx, `SELECT d.collection, d.key FROM documents d
		JOIN oplog o ON o.node = d.node AND o.wall = d.wall AND o.logic = d.logic AND o.collection = d.collection AND o.key = d.key
		WHERE (o.data IS NOT NULL AND o.data IS NOT d.data) OR (o.op = 0) = (d.deleted <> 0) OR o.expires_at <> d.expires_at
		LIMIT 1`).Scan(&collection, &key)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return domain.Errorf(domain.CodeCorruption, "", "document %s/%s differs from the entry of its version", collection, key)
}

// fileClock reads the file's vector clock with each author's head hash.
func fileClock(ctx context.Context, db *sql.DB) (map[string]head, error) {
	heads := map[string]head{}
	return heads, readHeads(ctx, db, heads)
}

// chainVerifier follows the oplog in seq order (a sequential read of the
// file: each author's entries were stored in chain order, and an entry out
// of order fails the link check). A segment is a run of one author's
// entries whose links follow each other; the newest proof of a segment is
// verified at its end, and since its signed link commits to every link
// before it, that proves the whole segment up to it.
type chainVerifier struct {
	known          map[string][]byte // identity keys this node knows
	fileKeys       map[string][]byte // the key each author's proofs present
	boundaryHashes map[string]string
	boundaryLinks  map[string][]byte
	clock          map[string]head // the file's vector clock
	authors        map[string]*authorChain
}

// authorChain is where the verifier stands on one author's chain.
type authorChain struct {
	last     domain.Timestamp // the stamp of the author's newest entry
	lastHash string
	prevHash string // "" before the author's first hashed entry
	prevLink []byte // the stored link of the entry before (nil: unknown)
	unlinked bool   // the entry before had no hash (an old v4 author's)
	proof    *segmentProof
}

type segmentProof struct {
	entry      domain.Entry
	linkBefore []byte
}

func (v *chainVerifier) add(c *checkedEntry) error {
	e := &c.e
	author := e.Author()
	a := v.authors[author]
	if a == nil {
		a = &authorChain{}
		v.authors[author] = a
	}
	a.last, a.lastHash = e.Stamp, e.Hash
	if e.Hash == "" {
		// A hashless entry (a v4 peer's): nothing to check, and nothing
		// chains from it.
		a.unlinked = true
		return nil
	}
	if !c.hashOK {
		return domain.Errorf(domain.CodeCorruption, "", "entry %s of %q: hash does not match its contents", e.Hash, author)
	}
	var before []byte // the link the entry's link follows from
	switch {
	case e.PrevHash == a.prevHash && a.prevHash != "":
		before = domain.LinkBefore(e.PrevHash, a.prevLink)
	case e.PrevHash == "" && a.prevHash == "":
		before = domain.GenesisLink
	case a.prevHash == "" && e.PrevHash == v.boundaryHashes[author],
		a.unlinked,
		v.hasBoundary(e.PrevHash):
		// The chain resumes after a boundary the file records (or after
		// an entry that had no hash): a new segment.
		if err := a.endSegment(); err != nil {
			return err
		}
		before = domain.LinkBefore(e.PrevHash, v.boundaryLinks[e.PrevHash])
	default:
		return domain.Errorf(domain.CodeCorruption, "", "entry %s of %q does not follow the entry before it", e.Hash, author)
	}
	link := domain.NextLink(before, c.digest)
	if e.Link != nil && !bytes.Equal(e.Link, link) {
		return domain.Errorf(domain.CodeCorruption, "", "entry %s of %q: content link does not match its document", e.Hash, author)
	}
	if e.Link == nil {
		// Held without a link (unknown): what follows chains from a
		// boundary link, as the store itself does.
		if err := a.endSegment(); err != nil {
			return err
		}
	}
	if e.Proof != nil {
		if err := v.checkKey(author, e.Proof.PublicKey); err != nil {
			return err
		}
		a.proof = &segmentProof{entry: *e, linkBefore: before}
	}
	a.prevHash, a.prevLink, a.unlinked = e.Hash, e.Link, false
	return nil
}

func (v *chainVerifier) hasBoundary(hash string) bool {
	_, ok := v.boundaryLinks[hash]
	return ok
}

// checkKey requires an author's proofs to present one key, and the key this
// node knows for the author when it knows one.
func (v *chainVerifier) checkKey(author string, key []byte) error {
	if k, ok := v.known[author]; ok && !bytes.Equal(k, key) {
		return domain.Errorf(domain.CodeUnauthorized, "", "entries of %q are proven by key %s, not the key this node knows for it",
			author, domain.KeyFingerprint(key))
	}
	if k, ok := v.fileKeys[author]; ok && !bytes.Equal(k, key) {
		return domain.Errorf(domain.CodeUnauthorized, "", "entries of %q are proven by two different keys", author)
	}
	v.fileKeys[author] = key
	return nil
}

// finish ends every author's last segment and requires the file's vector
// clock to hold each author's newest entry (or a later head a snapshot
// brought): the receiver's heads come from it.
func (v *chainVerifier) finish() error {
	for author, a := range v.authors {
		if err := a.endSegment(); err != nil {
			return err
		}
		h, ok := v.clock[author]
		switch {
		case !ok || h.before(a.last.Wall, a.last.Logical):
			return domain.Errorf(domain.CodeCorruption, "", "the vector clock of %q is behind its entries", author)
		case h.wall == a.last.Wall && h.logic == a.last.Logical && h.hash != a.lastHash:
			return domain.Errorf(domain.CodeCorruption, "", "the head of %q is not its newest entry", author)
		}
	}
	return nil
}

// endSegment verifies the newest proof of the segment that ends.
func (a *authorChain) endSegment() error {
	p := a.proof
	a.proof = nil
	if p == nil {
		return nil
	}
	proof := *p.entry.Proof
	proof.LinkBefore = p.linkBefore
	_, err := domain.VerifyRunHashed(p.entry.Author(), []domain.Entry{p.entry}, &proof)
	return err
}
