package sqlite

import (
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Every entry of a snapshot file is proven by its author's key, and every
// document row by the entry of its version (issue 15's snapshot gap). The
// attacker is a member that serves a file it edited: each forgery is
// refused with nothing installed; an honest file installs, also after
// compaction removed the entries that carried its proofs.

// forge writes e into the file at path as a dishonest server would: the
// entry (hash, link, no proof), its document row, its author's head and
// the materialized mark.
func forge(t *testing.T, path string, e domain.Entry, row bool) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer db.Close()
	prev := any("")
	if e.PrevHash != "" {
		prev = hashArg(e.PrevHash)
	}
	_, err = db.Exec(`INSERT INTO oplog (collection, key, op, data, wall, logic, node, hash, prev_hash, link)
		VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?)`, e.Collection, e.Key, string(e.Data), e.Stamp.Wall, e.Stamp.Logical, e.Stamp.Node,
		hashArg(e.Hash), prev, e.Link)
	require.NoError(t, err)
	if row {
		_, err = db.Exec(`INSERT INTO documents (collection, key, data, wall, logic, node) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (collection, key) DO UPDATE SET data = excluded.data, wall = excluded.wall, logic = excluded.logic, node = excluded.node`,
			e.Collection, e.Key, string(e.Data), e.Stamp.Wall, e.Stamp.Logical, e.Stamp.Node)
		require.NoError(t, err)
	}
	_, err = db.Exec(`INSERT INTO vclock (author, wall, logic, hash) VALUES (?, ?, ?, ?)
		ON CONFLICT (author) DO UPDATE SET wall = excluded.wall, logic = excluded.logic, hash = excluded.hash`,
		e.Stamp.Node, e.Stamp.Wall, e.Stamp.Logical, e.Hash)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE meta SET value = (SELECT max(seq) FROM oplog) WHERE key = 'materialized_seq'`)
	require.NoError(t, err)
}

// headOf reads author's head hash and link in the file at path.
func headOf(t *testing.T, path, author string) (string, []byte) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var hash string
	var link []byte
	require.NoError(t, db.QueryRow(`SELECT `+hashText("hash")+`, link FROM oplog WHERE node = ? ORDER BY seq DESC LIMIT 1`, author).
		Scan(&hash, &link))
	return hash, link
}

// sealed is an entry of author after prev (hash, link), linked as a store
// links it.
func sealed(author, key, data string, wall int64, prevHash string, prevLink []byte) domain.Entry {
	e := domain.Entry{Collection: "c", Key: key, Op: domain.OpPut, Data: []byte(data), Stamp: domain.Timestamp{Wall: wall, Node: author}}
	e.Seal(prevHash)
	e.Link = domain.NextLink(domain.LinkBefore(prevHash, prevLink), domain.EntryDigest(&e))
	return e
}

func TestSnapshotFileForgeriesAreRefused(t *testing.T) {
	t.Parallel()
	a, key := snapSource(t, 250)
	pubA := key.Public().(ed25519.PublicKey)
	// Entries after the last proof snapSource stored (the server signs
	// them when it serves the file), and a document updated once.
	var writes []ports.Write
	for i := range 5 {
		writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: fmt.Sprint("tail", i), Op: domain.OpPut,
			Data: []byte(`{}`), Stamp: domain.Timestamp{Wall: pendWall0 + 600 + int64(i), Node: "A"}}})
	}
	writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k20", Op: domain.OpPut,
		Data: []byte(`{"n":"k20 v2"}`), Stamp: domain.Timestamp{Wall: pendWall0 + 700, Node: "A"}}})
	_, err := a.Commit(t.Context(), pendLWW, writes...)
	require.NoError(t, err)
	_, keyB, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	_, other, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		signer ports.SnapshotSigner
		alter  func(t *testing.T, path string)
		want   string
	}{
		{"an entry in another Go node's name without proof", signerOf(key), func(t *testing.T, path string) {
			forge(t, path, sealed("B", "forged-b", `{"by":"not B"}`, pendWall0+500, "", nil), true)
		}, "no proof"},
		{"an entry appended to the server's chain after it was signed", signerOf(key), func(t *testing.T, path string) {
			hash, link := headOf(t, path, "A")
			forge(t, path, sealed("A", "k-extra", `{"n":"extra"}`, pendWall0+900, hash, link), true)
		}, "no proof"},
		{"the server's own head unsigned", ports.SnapshotSigner{}, func(t *testing.T, path string) {}, "no proof"},
		{"the server's own head signed by another key", ports.SnapshotSigner{Author: "A", PublicKey: other.Public().(ed25519.PublicKey),
			Sign: func(link []byte) []byte { return domain.SignHead(other, "A", link) }}, func(t *testing.T, path string) {}, "not the key this node knows"},
		{"a document row altered after its entry was signed", signerOf(key), func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE documents SET data = '{"n":"forged"}' WHERE key = 'k10'`)
		}, "differs from the entry"},
		{"a document row with no entry", signerOf(key), func(t *testing.T, path string) {
			alterSnapshot(t, path, `INSERT INTO documents (collection, key, data, wall, logic, node) VALUES ('c', 'from-nowhere', '{"x":1}', `+
				fmt.Sprint(pendWall0+10)+`, 0, 'B')`)
		}, "no entry in the file to prove it"},
		{"a document row rolled back to an older proven version", signerOf(key), func(t *testing.T, path string) {
			// The current entry is given its bytes back, so it still
			// links; the row goes back to the first version.
			alterSnapshot(t, path, `UPDATE oplog SET data = '{"n":"k20 v2"}' WHERE key = 'k20' AND data IS NULL`,
				`UPDATE documents SET data = '{"n":20}', wall = `+fmt.Sprint(pendWall0+20)+` WHERE key = 'k20'`)
		}, "newer than its document's row"},
		{"a delete marker with no entry hiding a proven document", signerOf(key), func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE documents SET data = NULL, deleted = 1, wall = wall + 100000 WHERE key = 'k30'`)
		}, "collected delete"},
		{"a head for an author with no entry", signerOf(key), func(t *testing.T, path string) {
			alterSnapshot(t, path, `INSERT INTO vclock (author, wall, logic, hash) VALUES ('B', `+fmt.Sprint(pendWall0+99999)+`, 0, 'ab')`)
		}, "no entry in the file to prove it"},
		{"a proven author's entry marked legacy", signerOf(key), func(t *testing.T, path string) {
			hash, link := headOf(t, path, "A")
			forge(t, path, sealed("A", "k-legacy", `{"n":"legacy"}`, pendWall0+900, hash, link), true)
			alterSnapshot(t, path, `UPDATE oplog SET legacy = 1, link = NULL WHERE key = 'k-legacy'`)
		}, "may not take unproven"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, err := a.WriteSnapshotFile(t.Context(), clusterA, tc.signer)
			require.NoError(t, err)
			t.Cleanup(func() { removeDBFiles(path) })
			tc.alter(t, path)
			c := snapTarget(t, pubA)
			require.NoError(t, c.CheckPeerKey(t.Context(), "B", keyB.Public().(ed25519.PublicKey)))
			_, err = c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA, Self: "C", AcceptLegacy: true}, fetchFrom(path))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			requireUntouched(t, c)
		})
	}
}

// An entry in the receiver's own name must carry the receiver's key.
func TestSnapshotFileEntryInTheReceiversNameIsRefused(t *testing.T) {
	t.Parallel()
	a, key := snapSource(t, 20)
	_, keyC, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	_, forger, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	path := snapshotOf(t, a, key, clusterA)
	e := sealed("C", "as-c", `{"by":"not C"}`, pendWall0+500, "", nil)
	forge(t, path, e, true)
	p := encodeProof(&domain.AuthorProof{PublicKey: forger.Public().(ed25519.PublicKey), Signature: domain.SignHead(forger, "C", e.Link)})
	alterSnapshot(t, path, fmt.Sprintf(`UPDATE oplog SET proof = x'%x' WHERE key = 'as-c'`, p))
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	_, err = c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA, Self: "C",
		SelfKey: keyC.Public().(ed25519.PublicKey)}, fetchFrom(path))
	require.Error(t, err)
	require.Contains(t, err.Error(), "not the key this node knows")
	requireUntouched(t, c)
}

// A third author's entries proven by the proofs the file holds install,
// and its key is pinned as an entry's proof would pin it.
func TestSnapshotFilePinsTheKeysItsProofsPresent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, key := snapSource(t, 20)
	_, keyB, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	path := snapshotOf(t, a, key, clusterA)
	e := sealed("B", "by-b", `{"by":"B"}`, pendWall0+500, "", nil)
	forge(t, path, e, true)
	p := encodeProof(&domain.AuthorProof{PublicKey: keyB.Public().(ed25519.PublicKey), Signature: domain.SignHead(keyB, "B", e.Link)})
	alterSnapshot(t, path, fmt.Sprintf(`UPDATE oplog SET proof = x'%x' WHERE key = 'by-b'`, p))
	c := snapTarget(t, nil)
	res, err := c.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA, Self: "C"}, fetchFrom(path))
	require.NoError(t, err)
	require.Equal(t, 21, res.Entries)
	for author, want := range map[string]ed25519.PublicKey{"A": key.Public().(ed25519.PublicKey), "B": keyB.Public().(ed25519.PublicKey)} {
		k, ok, err := c.PeerKey(ctx, author)
		require.NoError(t, err)
		require.True(t, ok, author)
		require.Equal(t, want, ed25519.PublicKey(k), author)
	}
}

// Compaction removed superseded entries, among them ones that carried
// proofs: the server signs each stretch of its chain in the copy, and the
// file installs. The rows of collected deletes (no entry left) are left
// out; their documents stay deleted.
func TestSnapshotFileAfterCompactionRemovedProofCarryingEntries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, key := snapSource(t, 300)
	// k99 and k199 carried proofs (snapSource signs each hundred's last).
	var writes []ports.Write
	for i, k := range []string{"k5", "k99", "k150", "k199", "k250"} {
		writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: k, Op: domain.OpPut,
			Data: fmt.Appendf(nil, `{"n":"updated %d"}`, i), Stamp: domain.Timestamp{Wall: pendWall0 + 1000 + int64(i), Node: "A"}}})
	}
	writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k7", Op: domain.OpDelete,
		Stamp: domain.Timestamp{Wall: pendWall0 + 1100, Node: "A"}}})
	writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: "k-last", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: pendWall0 + 1200, Node: "A"}}})
	_, err := a.Commit(ctx, pendLWW, writes...)
	require.NoError(t, err)
	res, err := a.Compact(ctx, domain.CompactionPolicy{Now: pendWall0 + 1_000_000, HeldByAll: domain.VectorClock{"A": {Wall: pendWall0 + 1_000_000, Node: "A"}}})
	require.NoError(t, err)
	require.EqualValues(t, 7, res.EntriesRemoved, "the five superseded puts, k7's put and its delete")
	var proofs int
	require.NoError(t, a.reader.DB.QueryRow(`SELECT count(*) FROM oplog WHERE substr(proof, 1, 1) = x'01'`).Scan(&proofs))
	require.Equal(t, 3, proofs, "k299's proof, and k99's and k199's moved onto k98 and k198 (compactbridges.go)")

	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	got, err := c.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA, Self: "C"}, fetchFrom(snapshotOf(t, a, key, clusterA)))
	require.NoError(t, err)
	require.Equal(t, 300+5+2-7, got.Entries)
	n, err := c.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, 300, n, "299 of the first documents and k-last")
	d, err := c.Get(ctx, "c", "k99")
	require.NoError(t, err)
	require.JSONEq(t, `{"n":"updated 1"}`, string(d.Data))
	_, err = c.Get(ctx, "c", "k7")
	require.ErrorIs(t, err, domain.ErrNotFound)
	wantVC, err := a.VectorClock(ctx)
	require.NoError(t, err)
	require.Equal(t, wantVC, got.VectorClock)
}

// Legacy entries (a family node's, taken unproven) install only on a node
// with a legacy opt-in, for an author with no known key, as the entry
// path takes them.
func TestSnapshotFileLegacyEntriesOnlyWithAnOptIn(t *testing.T) {
	t.Parallel()
	a, key := snapSource(t, 20)
	path := snapshotOf(t, a, key, clusterA)
	forge(t, path, sealed("F", "by-family", `{"by":"F"}`, pendWall0+500, "", nil), true)
	alterSnapshot(t, path, `UPDATE oplog SET legacy = 1, link = NULL WHERE node = 'F'`)
	for _, tc := range []struct {
		name   string
		optIn  bool
		keyOfF bool
		want   string
	}{
		{"no opt-in", false, false, "may not take unproven"},
		{"an author whose key is known", true, true, "may not take unproven"},
		{"opt-in, a family author", true, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := snapTarget(t, key.Public().(ed25519.PublicKey))
			if tc.keyOfF {
				_, keyF, err := ed25519.GenerateKey(nil)
				require.NoError(t, err)
				require.NoError(t, c.CheckPeerKey(t.Context(), "F", keyF.Public().(ed25519.PublicKey)))
			}
			res, err := c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA, Self: "C", AcceptLegacy: tc.optIn},
				fetchFrom(path))
			if tc.want != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.want)
				requireUntouched(t, c)
				return
			}
			require.NoError(t, err)
			require.Equal(t, 21, res.Entries)
			d, err := c.Get(t.Context(), "c", "by-family")
			require.NoError(t, err)
			require.JSONEq(t, `{"by":"F"}`, string(d.Data))
		})
	}
}
