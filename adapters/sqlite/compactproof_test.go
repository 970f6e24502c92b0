package sqlite

import (
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Compaction on a relay: node S holds author A's entries with the proofs
// they arrived with (on each hundred's last), writes over some of A's
// documents and compacts A's superseded entries away, among them two that
// carried A's proofs. What S serves of A's chain (a snapshot file, or the
// proofs of a page of entries) must still prove every entry of A it holds,
// and nothing else.

// relaySuperseded are the documents S writes over, removing A's entries of
// them: k5 and k6 one hole, k99 and k199 A's proof-carrying entries.
var relaySuperseded = []string{"k5", "k6", "k99", "k150", "k199"}

// compactedRelay is S, compacted, with A's store and keys.
type compactedRelay struct {
	s, a       *Store
	keyA, keyS ed25519.PrivateKey
}

func newCompactedRelay(t *testing.T) compactedRelay {
	t.Helper()
	ctx := t.Context()
	a, keyA := snapSource(t, 300)
	entries, err := a.EntriesAfter(ctx, domain.Timestamp{}, nil, 1000, 1<<30)
	require.NoError(t, err)
	require.Len(t, entries, 300)
	s := pendOpen(t, filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, s.SetMeta(ctx, "node_id", "S"))
	_, err = s.ApplyRemote(ctx, pendLWW, entries)
	require.NoError(t, err)
	var writes []ports.Write
	for i, k := range append(relaySuperseded, "s-own") {
		writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: k, Op: domain.OpPut,
			Data: fmt.Appendf(nil, `{"by":"S","i":%d}`, i), Stamp: domain.Timestamp{Wall: pendWall0 + 1000 + int64(i), Node: "S"}}})
	}
	_, err = s.Commit(ctx, pendLWW, writes...)
	require.NoError(t, err)
	held := domain.Timestamp{Wall: pendWall0 + 1_000_000}
	res, err := s.Compact(ctx, domain.CompactionPolicy{Now: pendWall0 + 1_000_000,
		HeldByAll: domain.VectorClock{"A": held, "S": held}})
	require.NoError(t, err)
	require.EqualValues(t, len(relaySuperseded), res.EntriesRemoved, "A's superseded entries")
	_, keyS, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	return compactedRelay{s: s, a: a, keyA: keyA, keyS: keyS}
}

// file is a snapshot file of S, served by S.
func (r compactedRelay) file(t *testing.T) string {
	t.Helper()
	signer := ports.SnapshotSigner{Author: "S", PublicKey: r.keyS.Public().(ed25519.PublicKey),
		Sign: func(link []byte) []byte { return domain.SignHead(r.keyS, "S", link) }}
	path, err := r.s.WriteSnapshotFile(t.Context(), clusterA, signer)
	require.NoError(t, err)
	t.Cleanup(func() { removeDBFiles(path) })
	return path
}

// install installs path on a new node C that knows A's key.
func (r compactedRelay) install(t *testing.T, path string) (*Store, ports.SnapshotFileResult, error) {
	t.Helper()
	c := snapTarget(t, r.keyA.Public().(ed25519.PublicKey))
	res, err := c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA, Self: "C"}, fetchFrom(path))
	return c, res, err
}

// column reads the proof column of A's entry of key in the store or file
// at path.
func column(t *testing.T, path, author, key string) []byte {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var b []byte
	require.NoError(t, db.QueryRow(`SELECT proof FROM oplog WHERE node = ? AND key = ?`, author, key).Scan(&b))
	return b
}

// An honest file of a relay whose compaction removed another author's
// proof-carrying entries, and made holes inside its proven runs, installs.
func TestSnapshotFileOfACompactedRelayInstalls(t *testing.T) {
	t.Parallel()
	r := newCompactedRelay(t)
	path := r.file(t)

	// What compaction kept across the holes: a bridge after k4 (k5, k6)
	// and k149 (k150); k99's and k199's proofs on k98 and k198.
	for key, digests := range map[string]int{"k4": 2, "k149": 1} {
		proof, bridge, err := decodeStoredProof(column(t, path, "A", key))
		require.NoError(t, err)
		require.Nil(t, proof, key)
		require.Len(t, bridge, digests, key)
	}
	for _, key := range []string{"k98", "k198"} {
		proof, bridge, err := decodeStoredProof(column(t, path, "A", key))
		require.NoError(t, err)
		require.Nil(t, bridge, key)
		require.NotNil(t, proof, key)
		require.Len(t, proof.Tail, 1, key)
	}

	c, res, err := r.install(t, path)
	require.NoError(t, err)
	require.Equal(t, 300+1, res.Entries, "A's 295 entries left and S's six")
	n, err := c.Count(t.Context(), "c", nil)
	require.NoError(t, err)
	require.Equal(t, 301, n)
	d, err := c.Get(t.Context(), "c", "k99")
	require.NoError(t, err)
	require.JSONEq(t, `{"by":"S","i":2}`, string(d.Data))
	// The receiver keeps the bridges, so it can serve the file on.
	proof, bridge, err := decodeStoredProof(column(t, c.Path(), "A", "k4"))
	require.NoError(t, err)
	require.Nil(t, proof)
	require.Len(t, bridge, 2)
	_, _, err = r.install(t, r.fileOf(t, c))
	require.NoError(t, err, "C's own copy installs on the next node")
}

// fileOf is a snapshot file of c (node C, unsigned: C holds no entries of
// its own).
func (r compactedRelay) fileOf(t *testing.T, c *Store) string {
	t.Helper()
	path, err := c.WriteSnapshotFile(t.Context(), clusterA, ports.SnapshotSigner{})
	require.NoError(t, err)
	t.Cleanup(func() { removeDBFiles(path) })
	return path
}

// A member serving S's file alters what compaction kept across the holes,
// or the entries around them: each is refused, nothing installed.
func TestSnapshotFileForgedBridgesAreRefused(t *testing.T) {
	t.Parallel()
	r := newCompactedRelay(t)
	for _, tc := range []struct {
		name  string
		alter func(t *testing.T, path string)
		want  string
	}{
		{"a forged digest in a bridge", func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE oplog SET proof = x'02' || randomblob(32) || substr(proof, 34) WHERE node = 'A' AND key = 'k4'`)
		}, "carry no proof"},
		{"a bridge that skips an entry", func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE oplog SET proof = x'02' || substr(proof, 34) WHERE node = 'A' AND key = 'k4'`)
		}, "carry no proof"},
		{"a bridge with its digests swapped", func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE oplog SET proof = x'02' || substr(proof, 34, 32) || substr(proof, 2, 32) WHERE node = 'A' AND key = 'k4'`)
		}, "carry no proof"},
		{"the bridge of another hole", func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE oplog SET proof = (SELECT proof FROM oplog WHERE node = 'A' AND key = 'k149') WHERE node = 'A' AND key = 'k4'`)
		}, "carry no proof"},
		{"a moved proof whose tail skips the removed entry", func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE oplog SET proof = substr(proof, 1, 97) WHERE node = 'A' AND key = 'k98'`)
		}, "not signed by the key"},
		{"a forged digest in a moved proof's tail", func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE oplog SET proof = substr(proof, 1, 97) || randomblob(32) WHERE node = 'A' AND key = 'k98'`)
		}, "not signed by the key"},
		{"the entry before a bridge altered, its hash and link made anew", func(t *testing.T, path string) {
			r.alterEntry(t, path, "k4", false)
		}, "carry no proof"},
		{"the entry before a bridge altered and every link up to the next proof made anew", func(t *testing.T, path string) {
			r.alterEntry(t, path, "k4", true)
		}, "not signed by the key"},
		{"the entry before a moved proof altered, its hash and link made anew", func(t *testing.T, path string) {
			r.alterEntry(t, path, "k98", false)
		}, "not signed by the key"},
		{"a moved proof put on an entry of another author", func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE oplog SET proof = (SELECT proof FROM oplog WHERE node = 'A' AND key = 'k98')
				WHERE node = 'S' AND key = 's-own'`)
		}, "not signed by the key"},
		{"a bridge moved onto an entry of another author", func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE oplog SET proof = (SELECT proof FROM oplog WHERE node = 'A' AND key = 'k4')
				WHERE node = 'S' AND key = 'k5'`, `UPDATE oplog SET proof = NULL WHERE node = 'A' AND key = 'k4'`)
		}, "carry no proof"},
		{"a malformed bridge", func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE oplog SET proof = x'0201' WHERE node = 'A' AND key = 'k4'`)
		}, "bridge of 2 bytes is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := r.file(t)
			tc.alter(t, path)
			c, _, err := r.install(t, path)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			requireUntouched(t, c)
		})
	}
}

// alterEntry gives A's entry of key in the file at path another document,
// with the hash and link a forger computes for it (its row too); relink
// also rewrites the hole's boundary and every link after it up to the
// next proof, as if the bridge led there.
func (r compactedRelay) alterEntry(t *testing.T, path, key string, relink bool) {
	t.Helper()
	ctx := t.Context()
	all, err := r.a.EntriesAfter(ctx, domain.Timestamp{}, nil, 1000, 1<<30)
	require.NoError(t, err)
	at := -1
	for i := range all {
		if all[i].Key == key {
			at = i
		}
	}
	require.Positive(t, at)
	prev := all[at-1]
	forged := sealed("A", key, `{"n":"forged"}`, all[at].Stamp.Wall, prev.Hash, prev.Link)
	stmts := []string{
		fmt.Sprintf(`UPDATE oplog SET data = '{"n":"forged"}', hash = x'%s', link = x'%x' WHERE node = 'A' AND key = '%s'`,
			forged.Hash, forged.Link, key),
		fmt.Sprintf(`UPDATE documents SET data = '{"n":"forged"}' WHERE key = '%s'`, key),
	}
	if relink {
		_, bridge, err := decodeStoredProof(column(t, path, "A", key))
		require.NoError(t, err)
		link := domain.LinkAfter(forged.Link, bridge)
		removed := all[at+len(bridge)]
		stmts = append(stmts, fmt.Sprintf(`UPDATE link_boundaries SET link = x'%x' WHERE hash = '%s'`, link, removed.Hash))
		for _, e := range all[at+len(bridge)+1 : 99] {
			link = domain.NextLink(link, domain.EntryDigest(&e))
			stmts = append(stmts, fmt.Sprintf(`UPDATE oplog SET link = x'%x' WHERE node = 'A' AND key = '%s'`, link, e.Key))
		}
	}
	alterSnapshot(t, path, stmts...)
}

// The entry path: a page of A's entries that S serves ends before a hole,
// at the entry that carries the bridge, or after the hole; the proof S
// builds for it as app/proofs.go does (its stored proof, else ProofAfter's
// digests in front of the next proof's tail) verifies, across the hole.
func TestRelayProvesPagesAcrossCompactedHoles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	r := newCompactedRelay(t)
	chain, err := r.s.AuthorEntriesAfter(ctx, "A", domain.Timestamp{}, 1000)
	require.NoError(t, err)
	require.Len(t, chain, 300-len(relaySuperseded))
	at := func(key string) int {
		for i := range chain {
			if chain[i].Key == key {
				return i
			}
		}
		t.Fatalf("no entry %s", key)
		return -1
	}
	for _, page := range []struct{ from, to string }{
		{"k0", "k3"}, {"k0", "k4"}, {"k2", "k4"}, {"k7", "k20"}, {"k7", "k98"}, {"k100", "k149"}, {"k151", "k160"}, {"k200", "k299"},
	} {
		run := chain[at(page.from) : at(page.to)+1]
		last := run[len(run)-1]
		proof := last.Proof
		if proof == nil {
			tail, after, err := r.s.ProofAfter(ctx, "A", last.Stamp)
			require.NoError(t, err)
			require.NotNil(t, after, "a proof after %s", page.to)
			proof = &domain.AuthorProof{PublicKey: after.PublicKey, Signature: after.Signature, Tail: append(tail, after.Tail...)}
		}
		prev, err := r.s.LinkOf(ctx, run[0].PrevHash)
		require.NoError(t, err)
		proof.LinkBefore = domain.LinkBefore(run[0].PrevHash, prev)
		links, err := domain.VerifyRun("A", run, proof)
		require.NoError(t, err, "page %s..%s", page.from, page.to)
		require.Equal(t, last.Link, links[len(links)-1])
		require.Equal(t, r.keyA.Public().(ed25519.PublicKey), ed25519.PublicKey(proof.PublicKey))
	}
}

// Holes grow in later passes: the entries around a hole, the one carrying
// its bridge and one carrying a moved proof are compacted in turn, the
// batches small; what each pass keeps still proves the file.
func TestSnapshotFileAfterHolesGrowInLaterPasses(t *testing.T) {
	ctx := t.Context()
	r := newCompactedRelay(t)
	defer func(n int) { chainReadMax = n }(chainReadMax)
	chainReadMax = 3 // the ordered reads stop early: the rest take one lookup each
	for pass, keys := range [][]string{{"k4", "k3", "k98"}, {"k7", "k197", "k198", "k100"}, {"k148", "k149", "k151"}} {
		var writes []ports.Write
		for i, k := range keys {
			writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: k, Op: domain.OpPut,
				Data: fmt.Appendf(nil, `{"pass":%d}`, pass), Stamp: domain.Timestamp{Wall: pendWall0 + 2000 + int64(10*pass+i), Node: "S"}}})
		}
		_, err := r.s.Commit(ctx, pendLWW, writes...)
		require.NoError(t, err)
		held := domain.Timestamp{Wall: pendWall0 + 1_000_000}
		res, err := r.s.Compact(ctx, domain.CompactionPolicy{Now: pendWall0 + 1_000_000,
			HeldByAll: domain.VectorClock{"A": held, "S": held}})
		require.NoError(t, err)
		require.EqualValues(t, len(keys), res.EntriesRemoved, "pass %d", pass)
		_, _, err = r.install(t, r.file(t))
		require.NoError(t, err, "after pass %d", pass)
	}
	proof, bridge, err := decodeStoredProof(column(t, r.s.Path(), "A", "k2"))
	require.NoError(t, err)
	require.Nil(t, proof)
	require.Len(t, bridge, 5, "k3 to k7")
	proof, _, err = decodeStoredProof(column(t, r.s.Path(), "A", "k97"))
	require.NoError(t, err)
	require.Len(t, proof.Tail, 2, "k98 and k99, up to k99's proof")
}

// bridgeOf on its own: what the entry before a hole keeps, and when a
// bridge it held is dropped.
func TestBridgeOfKeepsMovesOrDrops(t *testing.T) {
	t.Parallel()
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	var chain []domain.Entry
	var rows []chainRow
	digests := map[int64][]byte{}
	prev, link := "", []byte(nil)
	for i := range maxBridge + 10 {
		e := sealed("A", fmt.Sprint("k", i), fmt.Sprintf(`{"i":%d}`, i), pendWall0+int64(i), prev, link)
		chain = append(chain, e)
		rows = append(rows, chainRow{seq: int64(i + 1), hash: e.Hash, prev: prev, link: e.Link})
		digests[int64(i+1)] = domain.EntryDigest(&e)
		prev, link = e.Hash, e.Link
	}
	hole := func(p, from, to int) holeAfter {
		h := holeAfter{p: &rows[p]}
		for i := from; i < to; i++ {
			h.removed = append(h.removed, &rows[i])
		}
		return h
	}
	bridgeOver := func(from, to int) [][]byte {
		var ds [][]byte
		for i := from; i < to; i++ {
			ds = append(ds, digests[int64(i+1)])
		}
		return ds
	}

	// A bridge over the removed entries, which reaches the last one's link.
	b, ok := bridgeOf(hole(0, 1, 4), digests)
	require.True(t, ok)
	_, got, err := decodeStoredProof(b.value)
	require.NoError(t, err)
	require.Equal(t, bridgeOver(1, 4), got)
	require.Equal(t, chain[3].Link, domain.LinkAfter(chain[0].Link, got))

	// Removed entries that do not follow the entry before them: nothing.
	_, ok = bridgeOf(hole(0, 2, 4), digests)
	require.False(t, ok)

	// A later batch extends the bridge, and moves the first proof it meets.
	rows[0].proof = encodeBridge(bridgeOver(1, 4))
	b, ok = bridgeOf(hole(0, 4, 6), digests)
	require.True(t, ok)
	_, got, err = decodeStoredProof(b.value)
	require.NoError(t, err)
	require.Equal(t, bridgeOver(1, 6), got)
	signed := domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), Signature: domain.SignHead(key, "A", chain[7].Link),
		Tail: bridgeOver(7, 8)}
	rows[6].proof = encodeProof(&signed).([]byte)
	b, ok = bridgeOf(hole(0, 4, 8), digests)
	require.True(t, ok)
	moved, _, err := decodeStoredProof(b.value)
	require.NoError(t, err)
	require.NotNil(t, moved)
	moved.LinkBefore = domain.GenesisLink
	_, err = domain.VerifyRun("A", chain[:1], moved)
	require.NoError(t, err, "the moved proof proves the entry before the hole")

	// A hole past maxBridge drops the bridge the entry held.
	rows[6].proof = nil
	b, ok = bridgeOf(hole(0, 4, len(rows)), digests)
	require.True(t, ok)
	require.Nil(t, b.value)
	require.Equal(t, rows[0].proof, b.old)
}

// A node's own chain gets no bridge or moved proof from compaction
// (CompactionPolicy.Self): it signs its own stretches when it serves a
// file, so its file still installs; another node's copy of the same chain
// is bridged.
func TestCompactionBridgesNoneOfItsOwnChain(t *testing.T) {
	ctx := t.Context()
	bridgedAfter := func(self string) (*Store, ed25519.PrivateKey, int) {
		s, key := snapSource(t, 300)
		var writes []ports.Write
		for i, k := range []string{"k5", "k6", "k99", "k150"} {
			writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: k, Op: domain.OpPut,
				Data: fmt.Appendf(nil, `{"again":%d}`, i), Stamp: domain.Timestamp{Wall: pendWall0 + 1000 + int64(i), Node: "A"}}})
		}
		_, err := s.Commit(ctx, pendLWW, writes...)
		require.NoError(t, err)
		held := domain.Timestamp{Wall: pendWall0 + 1_000_000}
		res, err := s.Compact(ctx, domain.CompactionPolicy{Now: pendWall0 + 1_000_000,
			HeldByAll: domain.VectorClock{"A": held, "P": held}, Self: self})
		require.NoError(t, err)
		require.EqualValues(t, 4, res.EntriesRemoved)
		var n int
		require.NoError(t, s.reader.QueryRowContext(ctx, `SELECT count(*) FROM oplog WHERE proof IS NOT NULL AND seq NOT IN
			(SELECT seq FROM oplog WHERE key IN ('k199', 'k299'))`).Scan(&n))
		return s, key, n
	}
	_, _, other := bridgedAfter("")
	require.Positive(t, other, "a chain not our own is bridged")
	own, key, n := bridgedAfter("A")
	require.Zero(t, n, "no bridge or moved proof in our own chain")

	signer := ports.SnapshotSigner{Author: "A", PublicKey: key.Public().(ed25519.PublicKey),
		Sign: func(link []byte) []byte { return domain.SignHead(key, "A", link) }}
	path, err := own.WriteSnapshotFile(ctx, clusterA, signer)
	require.NoError(t, err)
	t.Cleanup(func() { removeDBFiles(path) })
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	_, err = c.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA, Self: "C"}, fetchFrom(path))
	require.NoError(t, err, "our own stretches are signed as the file is served")
}
