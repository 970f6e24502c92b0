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

// verifiedFile is what the checks of a file leave for its install.
type verifiedFile struct {
	// newKeys are the keys the file's proofs present for authors this node
	// knows none for: pinned at the install, as an entry's proof pins its
	// author's key (trust on first use).
	newKeys map[string][]byte
	// orphanMarkers counts the rows of collected deletes with no entry:
	// nothing proves them, so the install leaves them out.
	orphanMarkers int
}

// verifySnapshotData checks the data of a file that passed
// checkSnapshotHeader.
func verifySnapshotData(ctx context.Context, path string, check ports.SnapshotFileCheck,
	known func(ctx context.Context) (map[string][]byte, error)) (verifiedFile, error) {
	const op = "sqlite.VerifySnapshotFile"
	var out verifiedFile
	db, err := openSnapshotFile(path)
	if err != nil {
		return out, mapErr(op, err)
	}
	defer db.Close()
	meta := snapshotMeta(ctx, db)
	if err := checkMaterialized(ctx, db, meta); err != nil {
		return out, domain.Errorf(refusedCode(err), op, "snapshot file refused: %w", err)
	}
	keys, err := known(ctx)
	if err != nil {
		return out, mapErr(op, err)
	}
	if check.Self != "" && check.SelfKey != nil {
		keys[check.Self] = check.SelfKey
	}
	v := chainVerifier{known: keys, fileKeys: map[string][]byte{}, authors: map[string]*authorChain{},
		self: check.Self, acceptLegacy: check.AcceptLegacy}
	var rows documentTally
	// Where a held chain may start after: the newest entry pruned (or the
	// head a snapshot started from), per author; and the hashes of entries
	// compacted away whose successor stayed, with their links (nil:
	// unknown).
	if v.boundaryHashes, err = queryMap[string](ctx, db, `SELECT author, hash FROM pruned`); err != nil {
		return out, mapErr(op, err)
	}
	if v.boundaryLinks, err = queryMap[[]byte](ctx, db, `SELECT hash, link FROM link_boundaries`); err != nil {
		return out, mapErr(op, err)
	}
	v.bridgeAt = fileBridge(ctx, db)
	if v.clock, err = fileClock(ctx, db); err != nil {
		return out, mapErr(op, err)
	}
	if check.CheckStamp != nil {
		for author, h := range v.clock {
			if err := check.CheckStamp(domain.Timestamp{Wall: h.wall, Logical: h.logic, Node: author}); err != nil {
				return out, domain.Errorf(domain.CodeOf(err), op, "snapshot file refused: the head of %q: %w", author, err)
			}
		}
	}
	err = scanSnapshotEntries(ctx, db, check, func(c *checkedEntry) error {
		rows.add(c)
		if err := v.add(c); err != nil {
			return domain.Errorf(refusedCode(err), op, "snapshot file refused: %w", err)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	// The rows are reported after the entries: a forged entry is named as
	// such, not by the row it left.
	if err := v.finish(); err != nil {
		return out, domain.Errorf(refusedCode(err), op, "snapshot file refused: %w", err)
	}
	if out.orphanMarkers, err = rows.check(ctx, db); err != nil {
		return out, domain.Errorf(refusedCode(err), op, "snapshot file refused: %w", err)
	}
	out.newKeys = map[string][]byte{}
	for author, key := range v.fileKeys {
		if _, ok := keys[author]; !ok {
			out.newKeys[author] = key
		}
	}
	return out, nil
}

// refusedCode is the code of a refusal: UNAUTHORIZED for what no author
// proves, CORRUPTION for the rest.
func refusedCode(err error) domain.Code {
	if domain.CodeOf(err) == domain.CodeUnauthorized {
		return domain.CodeUnauthorized
	}
	return domain.CodeCorruption
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
	return nil
}

// documentTally checks the document rows from the entries' side as the
// scan reads them (snapshotRows), and counts what the rows' side needs:
// every row must be the version of the newest entry the file holds of it,
// and equal to it — the entries are proven (chainVerifier), so each row is
// too.
type documentTally struct {
	withEntry int64           // rows whose version has its entry
	first     error           // the first entry whose row is refused
	newMarker map[docKey]bool // documents whose row is a delete without content, newer than an entry held
}

func (t *documentTally) add(c *checkedEntry) {
	e := &c.e
	switch c.row {
	case rowOfEntry:
		t.withEntry++
	case rowBehind:
		t.refuse(domain.Errorf(domain.CodeCorruption, "", "entry %s/%s of %q is newer than its document's row, or has none",
			e.Collection, e.Key, e.Author()))
	case rowDiffers:
		t.refuse(domain.Errorf(domain.CodeCorruption, "", "document %s/%s differs from the entry of its version", e.Collection, e.Key))
	case rowNewMarker:
		if t.newMarker == nil {
			t.newMarker = map[docKey]bool{}
		}
		t.newMarker[docKey{e.Collection, e.Key}] = true
	}
}

func (t *documentTally) refuse(err error) {
	if t.first == nil {
		t.first = err
	}
}

// rowsWithoutEntry lists the document rows whose version has no entry,
// each with whether it is the marker a collected delete leaves (a deleted
// row without content).
const rowsWithoutEntry = `SELECT d.collection, d.key, d.deleted <> 0 AND d.data IS NULL FROM documents d
	WHERE NOT EXISTS (SELECT 1 FROM oplog o WHERE o.node = d.node AND o.wall = d.wall AND o.logic = d.logic
		AND o.collection = d.collection AND o.key = d.key)`

// check ends the tally: a row with no entry is refused (nothing proves
// what it holds: a row taken from a JSON snapshot, or forged), but for the
// markers of collected deletes, which are counted: the install leaves them
// out, and the file is refused if it holds an entry of one's document (the
// marker would be all that hides it). Rows with no entry are looked for
// only when the count says there are some.
func (t *documentTally) check(ctx context.Context, db *sql.DB) (orphans int, err error) {
	if t.first != nil {
		return 0, t.first
	}
	var rows int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM documents`).Scan(&rows); err != nil {
		return 0, err
	}
	if rows == t.withEntry {
		return 0, nil
	}
	err = forEachRow(ctx, db, rowsWithoutEntry, func(r *sql.Rows) error {
		var k docKey
		var marker bool
		if err := r.Scan(&k.collection, &k.key, &marker); err != nil {
			return err
		}
		switch {
		case !marker:
			return domain.Errorf(domain.CodeUnauthorized, "", "document %s/%s has no entry in the file to prove it", k.collection, k.key)
		case t.newMarker[k]:
			return domain.Errorf(domain.CodeCorruption, "",
				"document %s/%s: its row is a collected delete with no entry, yet the file holds entries of it", k.collection, k.key)
		}
		orphans++
		return nil
	})
	return orphans, err
}

// forEachRow calls each for every row of query (with args).
func forEachRow(ctx context.Context, db *sql.DB, query string, each func(*sql.Rows) error, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// fileClock reads the file's vector clock with each author's head hash.
func fileClock(ctx context.Context, db *sql.DB) (map[string]head, error) {
	heads := map[string]head{}
	return heads, readHeads(ctx, db, heads)
}

// chainVerifier follows the oplog in seq order (a sequential read of the
// file: each author's entries were stored in chain order, and an entry out
// of order fails the link check). A segment is a run of one author's
// entries whose links follow each other; it must end with an entry that
// carries its author's proof, verified when the segment ends: its signed
// link commits to every link before it, so it proves the whole segment.
// An entry no proof covers is refused unless the file marks it legacy and
// the receiver may take legacy entries of its author (a node of the
// family: no key known for it, not the receiver).
type chainVerifier struct {
	known          map[string][]byte // identity keys this node knows (its own included)
	fileKeys       map[string][]byte // the key each author's proofs present
	boundaryHashes map[string]string
	boundaryLinks  map[string][]byte
	bridgeAt       func(seq int64) ([][]byte, error) // the bridge an entry carries (compactbridges.go)
	clock          map[string]head                   // the file's vector clock
	authors        map[string]*authorChain
	self           string
	acceptLegacy   bool
}

// authorChain is where the verifier stands on one author's chain.
type authorChain struct {
	author    string
	newest    domain.Timestamp // the stamp of the author's newest entry
	newestOf  string           // and its hash
	prevHash  string           // "" before the author's first hashed entry
	prevLink  []byte           // the stored link of the entry before (nil: unknown)
	prevSeq   int64            // the entry before's seq
	unlinked  bool             // the entry before had no hash (an old v4 author's)
	proof     *segmentProof    // the newest proof of the open segment
	uncovered int              // entries of the open segment after its newest proof
	legacy    bool             // the file holds legacy entries of the author
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
		a = &authorChain{author: author}
		v.authors[author] = a
	}
	if e.Stamp.After(a.newest) {
		a.newest, a.newestOf = e.Stamp, e.Hash
	}
	a.legacy = a.legacy || e.Legacy
	if e.Hash == "" {
		// A hashless entry (a v4 peer's): nothing chains from it, and no
		// proof covers it.
		if !e.Legacy {
			return domain.Errorf(domain.CodeUnauthorized, "", "an entry of %q without hash carries no proof of its author", author)
		}
		a.unlinked = true
		return a.endSegment()
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
		// an entry that had no hash): a new segment, unless the entry
		// before bridges the hole up to the boundary's link.
		crossed, err := v.cross(a, v.boundaryLinks[e.PrevHash])
		if err != nil {
			return err
		}
		if crossed != nil {
			before = crossed
			break
		}
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
	if e.Legacy {
		// Taken unproven from the family (finish checks the author): the
		// store keeps no link for it, so nothing is proven through it.
		err := a.endSegment()
		a.prevHash, a.prevLink, a.prevSeq, a.unlinked = e.Hash, e.Link, e.Seq, false
		return err
	}
	a.prevHash, a.prevLink, a.prevSeq, a.unlinked = e.Hash, e.Link, e.Seq, false
	a.uncovered++
	if e.Proof != nil {
		if err := v.checkKey(author, e.Proof.PublicKey); err != nil {
			return err
		}
		a.proof = &segmentProof{entry: *e, linkBefore: before}
		a.uncovered = 0
	}
	if e.Link == nil {
		// Held without a link (unknown): what follows chains from a
		// boundary link, as the store itself does.
		return a.endSegment()
	}
	return nil
}

// cross returns the link the bridge of a's entry before reaches, when
// that is the boundary's link (the link the next held entry follows), else
// nil. The segment then goes on across the hole: the signature at its end
// covers the bridge's digests and every link before them, so a bridge
// that is not the removed entries' own digests fails there.
func (v *chainVerifier) cross(a *authorChain, boundary []byte) ([]byte, error) {
	if boundary == nil || a.prevLink == nil || a.unlinked || a.prevHash == "" {
		return nil, nil
	}
	bridge, err := v.bridgeAt(a.prevSeq)
	if err != nil || bridge == nil {
		return nil, err
	}
	link := domain.LinkAfter(a.prevLink, bridge)
	if !bytes.Equal(link, boundary) {
		return nil, nil
	}
	return link, nil
}

// fileBridge reads the bridge of the file's entry seq (nil: none), one
// lookup per hole the verifier meets.
func fileBridge(ctx context.Context, db *sql.DB) func(seq int64) ([][]byte, error) {
	return func(seq int64) ([][]byte, error) {
		var col []byte
		if err := db.QueryRowContext(ctx, `SELECT proof FROM oplog WHERE seq = ?`, seq).Scan(&col); err != nil {
			return nil, err
		}
		_, bridge, err := decodeStoredProof(col)
		if err != nil {
			return nil, domain.Errorf(domain.CodeCorruption, "", "entry %d: %w", seq, err)
		}
		return bridge, nil
	}
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
// clock to name each author's newest entry, which a proof covers (the
// receiver's heads come from it: a head no proof covers would hold the
// author's real entries back), or a legacy author's.
func (v *chainVerifier) finish() error {
	for author, a := range v.authors {
		if err := a.endSegment(); err != nil {
			return err
		}
		h, ok := v.clock[author]
		if !ok || h.wall != a.newest.Wall || h.logic != a.newest.Logical || h.hash != a.newestOf {
			return domain.Errorf(domain.CodeCorruption, "", "the vector clock's head of %q is not its newest entry", author)
		}
		if a.legacy && !v.mayBeLegacy(author) {
			return domain.Errorf(domain.CodeUnauthorized, "", "legacy entries in the name of %q, which this node may not take unproven (no legacy opt-in, or a node whose key is known)", author)
		}
	}
	for author := range v.clock {
		if v.authors[author] == nil && !v.mayBeLegacy(author) {
			return domain.Errorf(domain.CodeUnauthorized, "", "the vector clock's head of %q has no entry in the file to prove it", author)
		}
	}
	return nil
}

// mayBeLegacy says whether author's entries may stand unproven: the
// receiver takes legacy entries, and author is a node of the family (not
// the receiver, no key known for it or presented by the file), as the
// entry path decides (app/sync_authors.go isLegacy).
func (v *chainVerifier) mayBeLegacy(author string) bool {
	_, known := v.known[author]
	_, presented := v.fileKeys[author]
	return v.acceptLegacy && author != v.self && !known && !presented
}

// endSegment verifies the newest proof of the segment that ends, which
// must be on its last entry.
func (a *authorChain) endSegment() error {
	p, uncovered := a.proof, a.uncovered
	a.proof, a.uncovered = nil, 0
	if uncovered > 0 {
		return domain.Errorf(domain.CodeUnauthorized, "", "%d entries of %q up to %s carry no proof of their author",
			uncovered, a.author, a.prevHash)
	}
	if p == nil {
		return nil
	}
	proof := *p.entry.Proof
	proof.LinkBefore = p.linkBefore
	_, err := domain.VerifyRunHashed(p.entry.Author(), []domain.Entry{p.entry}, &proof)
	return err
}
