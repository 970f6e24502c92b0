package sqlite

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Tests of file snapshots (snapshotfile.go, snapshotfile_verify.go): a
// copy installs into an empty store and only there, under the receiver's
// identity; a file that fails any check installs nothing and leaves no
// temporary file behind.

const clusterA, clusterB = "tag-of-cluster-a", "tag-of-cluster-b"

// snapSource is a store of node A holding n documents of its own, a proven
// chain, a peer and a node id.
func snapSource(t *testing.T, n int) (*Store, ed25519.PrivateKey) {
	t.Helper()
	ctx := t.Context()
	s := pendOpen(t, filepath.Join(t.TempDir(), "a.db"))
	require.NoError(t, s.SetMeta(ctx, "node_id", "A"))
	require.NoError(t, s.SavePeer(ctx, domain.Peer{NodeID: "P", Address: "10.0.0.9:5000", Source: domain.PeerStatic}))
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	for i := 0; i < n; i += 100 {
		var writes []ports.Write
		for k := i; k < min(i+100, n); k++ {
			writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: fmt.Sprint("k", k), Op: domain.OpPut,
				Data: fmt.Appendf(nil, `{"n":%d}`, k), Stamp: domain.Timestamp{Wall: pendWall0 + int64(k), Node: "A"}}})
		}
		sealed, err := s.Commit(ctx, pendLWW, writes...)
		require.NoError(t, err)
		last := sealed[len(sealed)-1]
		link, err := s.LinkOf(ctx, last.Hash)
		require.NoError(t, err)
		require.NotNil(t, link)
		require.NoError(t, s.SetProof(ctx, last.Hash, domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey),
			Signature: domain.SignHead(key, "A", link)}))
	}
	return s, key
}

// snapTarget is an empty store of node C that knows A's key as keyOfA.
func snapTarget(t *testing.T, keyOfA ed25519.PublicKey) *Store {
	t.Helper()
	s := pendOpen(t, filepath.Join(t.TempDir(), "c.db"))
	require.NoError(t, s.SetMeta(t.Context(), "node_id", "C"))
	if keyOfA != nil {
		require.NoError(t, s.CheckPeerKey(t.Context(), "A", keyOfA))
	}
	return s
}

func fetchFrom(path string) func(w io.Writer) error {
	return func(w io.Writer) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
}

// signerOf is node A's identity as the server of its snapshot files.
func signerOf(key ed25519.PrivateKey) ports.SnapshotSigner {
	return ports.SnapshotSigner{Author: "A", PublicKey: key.Public().(ed25519.PublicKey),
		Sign: func(link []byte) []byte { return domain.SignHead(key, "A", link) }}
}

// snapshotOf is a snapshot file of s, which is A's store, served by A.
func snapshotOf(t *testing.T, s *Store, key ed25519.PrivateKey, cluster string) string {
	t.Helper()
	path, err := s.WriteSnapshotFile(t.Context(), cluster, signerOf(key))
	require.NoError(t, err)
	t.Cleanup(func() { removeDBFiles(path) })
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, privateFile, fi.Mode().Perm())
	return path
}

// requireUntouched: nothing installed, no temporary file left.
func requireUntouched(t *testing.T, s *Store) {
	t.Helper()
	vc, err := s.VectorClock(t.Context())
	require.NoError(t, err)
	require.Empty(t, vc)
	n, err := s.Count(t.Context(), "c", nil)
	require.NoError(t, err)
	require.Zero(t, n)
	left, err := filepath.Glob(s.Path() + ".incoming-*")
	require.NoError(t, err)
	require.Empty(t, left, "temporary file removed")
}

func TestSnapshotFileInstallsUnderTheReceiversIdentity(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, key := snapSource(t, 250)
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	path := snapshotOf(t, a, key, clusterA)

	res, err := c.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(path))
	require.NoError(t, err)
	require.Equal(t, 250, res.Documents)
	require.Equal(t, 250, res.Entries)
	wantVC, err := a.VectorClock(ctx)
	require.NoError(t, err)
	require.Equal(t, wantVC, res.VectorClock)
	n, err := c.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, 250, n)
	d, err := c.Get(ctx, "c", "k7")
	require.NoError(t, err)
	require.JSONEq(t, `{"n":7}`, string(d.Data))

	id, _, err := c.GetMeta(ctx, "node_id")
	require.NoError(t, err)
	require.Equal(t, "C", id, "the receiver keeps its own identity")
	peers, err := c.Peers(ctx)
	require.NoError(t, err)
	require.Empty(t, peers, "the sender's peers stay with the sender")
	left, err := filepath.Glob(c.Path() + ".incoming-*")
	require.NoError(t, err)
	require.Empty(t, left)

	// The chain continues: A's next entry links to the installed head, and
	// C's own writes start its own chain.
	heads, err := a.Heads(ctx)
	require.NoError(t, err)
	next := domain.Entry{Collection: "c", Key: "k-next", Op: domain.OpPut, Data: []byte(`{"n":-1}`),
		Stamp: domain.Timestamp{Wall: pendWall0 + 10_000, Node: "A"}}
	next.Seal(heads["A"])
	applied, err := c.ApplyRemote(ctx, pendLWW, []domain.Entry{next})
	require.NoError(t, err)
	require.Len(t, applied.Applied, 1)
	_, err = c.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "own", Op: domain.OpPut,
		Data: []byte(`{}`), Stamp: domain.Timestamp{Wall: pendWall0 + 20_000, Node: "C"}}})
	require.NoError(t, err)
	n, err = c.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, 252, n)

	// A second install is refused: the store is no longer empty.
	_, err = c.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(path))
	require.ErrorIs(t, err, ports.ErrStoreNotEmpty)
}

func TestSnapshotFileFromAnotherClusterIsRefused(t *testing.T) {
	t.Parallel()
	a, key := snapSource(t, 50)
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	path := snapshotOf(t, a, key, clusterB)
	_, err := c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(path))
	require.Error(t, err)
	require.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err))
	require.Contains(t, err.Error(), "another cluster")
	requireUntouched(t, c)
}

// alterSnapshot edits a snapshot copy with SQL, as a dishonest sender could.
func alterSnapshot(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer db.Close()
	for _, q := range stmts {
		_, err := db.ExecContext(context.Background(), q)
		require.NoError(t, err, q)
	}
}

func TestSnapshotFileThatFailsVerificationIsRefused(t *testing.T) {
	t.Parallel()
	a, key := snapSource(t, 250)
	_, otherKey, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		known ed25519.PublicKey
		alter func(t *testing.T, path string)
		want  string
	}{
		{"garbled pages", key.Public().(ed25519.PublicKey), func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			fi, err := f.Stat()
			require.NoError(t, err)
			_, err = f.WriteAt([]byte(strings.Repeat("\xff", 8192)), fi.Size()/2)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}, "refused"},
		{"document altered", key.Public().(ed25519.PublicKey), func(t *testing.T, path string) {
			// Row and entry altered alike: only the content link sees it.
			alterSnapshot(t, path, `DROP TRIGGER documents_superseded`,
				`UPDATE documents SET data = '{"n":"forged"}' WHERE key = 'k10'`,
				`UPDATE oplog SET data = '{"n":"forged"}' WHERE key = 'k10'`)
		}, "content link"},
		{"document row altered", key.Public().(ed25519.PublicKey), func(t *testing.T, path string) {
			// The row holds the bytes its current entry reads; the
			// trigger hands the entry the old bytes, so only a check
			// of the row against its entry sees the forgery.
			alterSnapshot(t, path, `UPDATE documents SET data = '{"n":"forged"}' WHERE key = 'k10'`)
		}, "document"},
		{"entry metadata altered", key.Public().(ed25519.PublicKey), func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE oplog SET key = 'k10-renamed' WHERE key = 'k10'`)
		}, "hash does not match"},
		{"entry removed from a chain", key.Public().(ed25519.PublicKey), func(t *testing.T, path string) {
			alterSnapshot(t, path, `DELETE FROM oplog WHERE key = 'k10'`)
		}, "does not follow"},
		{"chain re-linked without the signer's key", key.Public().(ed25519.PublicKey), func(t *testing.T, path string) {
			// Links recomputed for a forged document, and the proof
			// kept: the signature no longer covers the chain.
			forged := domain.Entry{Collection: "c", Key: "k260", Op: domain.OpPut, Data: []byte(`{"n":"forged"}`),
				Stamp: domain.Timestamp{Wall: pendWall0 + 260, Node: "A"}}
			db, err := sql.Open("sqlite", "file:"+path)
			require.NoError(t, err)
			defer db.Close()
			var head string
			var link []byte
			require.NoError(t, db.QueryRow(`SELECT lower(hex(hash)), link FROM oplog ORDER BY seq DESC LIMIT 1`).Scan(&head, &link))
			forged.Seal(head)
			forged.Link = domain.NextLink(link, domain.EntryDigest(&forged))
			_, err = db.Exec(`INSERT INTO oplog (collection, key, op, data, wall, logic, node, hash, prev_hash, link, proof)
				SELECT 'c', 'k260', 0, ?, ?, 0, 'A', unhex(?), unhex(?), ?, proof FROM oplog ORDER BY seq DESC LIMIT 1`,
				string(forged.Data), forged.Stamp.Wall, forged.Hash, head, forged.Link)
			require.NoError(t, err)
			_, err = db.Exec(`UPDATE vclock SET wall = ?, hash = ? WHERE author = 'A'`, forged.Stamp.Wall, forged.Hash)
			require.NoError(t, err)
			_, err = db.Exec(`UPDATE meta SET value = (SELECT max(seq) FROM oplog) WHERE key = 'materialized_seq'`)
			require.NoError(t, err)
		}, "not signed"},
		{"author proven by another key than the known one", otherKey.Public().(ed25519.PublicKey), func(*testing.T, string) {}, "not the key this node knows"},
		{"vector clock behind the entries", key.Public().(ed25519.PublicKey), func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE vclock SET wall = wall - 100`)
		}, "vector clock"},
		{"schema version", key.Public().(ed25519.PublicKey), func(t *testing.T, path string) {
			alterSnapshot(t, path, `UPDATE meta SET value = '99' WHERE key = 'schema_version'`)
		}, "schema version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := snapshotOf(t, a, key, clusterA)
			tc.alter(t, path)
			c := snapTarget(t, tc.known)
			_, err := c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(path))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			requireUntouched(t, c)
		})
	}
}

func TestSnapshotFileInterruptedDownloadInstallsNothing(t *testing.T) {
	t.Parallel()
	a, key := snapSource(t, 50)
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	path := snapshotOf(t, a, key, clusterA)
	_, err := c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA}, func(w io.Writer) error {
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		_, _ = io.CopyN(w, f, 4096)
		return domain.Errorf(domain.CodeNetwork, "test", "connection cut")
	})
	require.Error(t, err)
	require.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	requireUntouched(t, c)
}

func TestSnapshotFileWithAnEntryThePeerChecksRefuseIsRefused(t *testing.T) {
	t.Parallel()
	a, key := snapSource(t, 50)
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	path := snapshotOf(t, a, key, clusterA)
	_, err := c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA, CheckEntry: func(e *domain.Entry) error {
		if e.Key == "k10" {
			return domain.Errorf(domain.CodeInvalidArgument, "test", "document too deep")
		}
		return nil
	}}, fetchFrom(path))
	require.Error(t, err)
	require.Contains(t, err.Error(), "document too deep")
	requireUntouched(t, c)

	_, err = c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA, CheckStamp: func(ts domain.Timestamp) error {
		return domain.Errorf(domain.CodeClockDrift, "test", "stamp %d too far ahead", ts.Wall)
	}}, fetchFrom(path))
	require.Error(t, err)
	require.Equal(t, domain.CodeClockDrift, domain.CodeOf(err))
	requireUntouched(t, c)
}

func TestSnapshotFileLeftoversOfACrashAreRemoved(t *testing.T) {
	t.Parallel()
	a, key := snapSource(t, 10)
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	old := c.Path() + incomingSuffix + "left-by-a-crash"
	require.NoError(t, os.WriteFile(old, []byte("partial"), 0o600))
	long := time.Now().Add(-2 * staleAfter)
	require.NoError(t, os.Chtimes(old, long, long))
	fresh := a.Path() + snapshotSuffix + "being-sent"
	require.NoError(t, os.WriteFile(fresh, []byte("in use"), 0o600))

	_, err := c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(snapshotOf(t, a, key, clusterA)))
	require.NoError(t, err)
	require.NoFileExists(t, old)
	require.FileExists(t, fresh, "a file still in use is kept")
}

func TestSnapshotFileInstallKeepsTheReceiversIndexesAndSurvivesAReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, key := snapSource(t, 120)
	require.NoError(t, a.EnsureIndex(ctx, "c", "sender_only"))
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	require.NoError(t, c.EnsureIndex(ctx, "c", "n"))
	_, err := c.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(snapshotOf(t, a, key, clusterA)))
	require.NoError(t, err)
	require.NoError(t, c.Close())

	c = pendOpen(t, c.Path())
	var names []string
	require.NoError(t, c.reader.NewSelect().Table("sqlite_master").Column("name").
		Where("type = 'index' AND name LIKE 'docidx%'").Scan(ctx, &names))
	sum := sha256.Sum256([]byte("n"))
	require.Equal(t, []string{"docidx_" + hex.EncodeToString(sum[:8])}, names, "the receiver's index, not the sender's")
	id, _, err := c.GetMeta(ctx, "node_id")
	require.NoError(t, err)
	require.Equal(t, "C", id)
	k, ok, err := c.PeerKey(ctx, "A")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, key.Public().(ed25519.PublicKey), ed25519.PublicKey(k), "the keys this node knows stay")
	n, err := c.Count(ctx, "c", nil)
	require.NoError(t, err)
	require.Equal(t, 120, n)
	_, ok, err = c.GetMeta(ctx, metaSnapshotCluster)
	require.NoError(t, err)
	require.False(t, ok, "the file's cluster stamp is the sender's, not kept")
}

// A crash while the file is copied into the store leaves the empty store
// (the copy is one write transaction); one after it, the whole snapshot.
// What a kill -9 leaves on disk is copied at each step of the copy.
func TestSnapshotFileInstallIsAtomicUnderACrash(t *testing.T) {
	// Not parallel: it sets the restore's package-level step hook.
	ctx := t.Context()
	a, key := snapSource(t, 300)
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	var crashed []string
	restoreStepPages, restoreStepped = 4, func() { crashed = append(crashed, pendCrashCopy(t, c.Path())) }
	defer func() { restoreStepPages, restoreStepped = 4096, nil }()
	_, err := c.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(snapshotOf(t, a, key, clusterA)))
	require.NoError(t, err)
	require.Greater(t, len(crashed), 2, "the copy took several steps")
	crashed = append(crashed, pendCrashCopy(t, c.Path()))

	for i, path := range crashed {
		s := pendOpen(t, path)
		id, _, err := s.GetMeta(ctx, "node_id")
		require.NoError(t, err)
		require.Equal(t, "C", id)
		n, err := s.Count(ctx, "c", nil)
		require.NoError(t, err)
		if i < len(crashed)-1 {
			require.Zero(t, n, "a crash mid-copy leaves the empty store")
			vc, err := s.VectorClock(ctx)
			require.NoError(t, err)
			require.Empty(t, vc)
		} else {
			require.Equal(t, 300, n, "a crash after the copy keeps all of it")
		}
	}
}

// The entries are read by several goroutines, range by range: a file
// spread over many ranges installs whole, and a bad entry in a middle
// range still refuses it.
func TestSnapshotFileEntriesCheckedInRanges(t *testing.T) {
	// Not parallel: it sets the package-level range size.
	scanRangeSeqs = 16
	defer func() { scanRangeSeqs = 2048 }()
	a, key := snapSource(t, 250)
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	res, err := c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(snapshotOf(t, a, key, clusterA)))
	require.NoError(t, err)
	require.Equal(t, 250, res.Entries)

	c = snapTarget(t, key.Public().(ed25519.PublicKey))
	path := snapshotOf(t, a, key, clusterA)
	alterSnapshot(t, path, `UPDATE oplog SET logic = logic + 1 WHERE seq = 133`)
	_, err = c.InstallSnapshotFile(t.Context(), ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(path))
	require.Error(t, err)
	require.Equal(t, domain.CodeCorruption, domain.CodeOf(err))
	require.Contains(t, err.Error(), "hash does not match")
	requireUntouched(t, c)
}

// The install copies through a small page cache; the writer's connection
// goes back to the pool with its own.
func TestSnapshotFileInstallGivesTheWriterItsCacheBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, key := snapSource(t, 50)
	c := snapTarget(t, key.Public().(ed25519.PublicKey))
	cacheSize := func() int64 {
		var n int64
		require.NoError(t, c.writer.DB.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&n))
		return n
	}
	before := cacheSize()
	require.NotEqual(t, int64(-restoreCacheKiB), before)
	_, err := c.InstallSnapshotFile(ctx, ports.SnapshotFileCheck{Cluster: clusterA}, fetchFrom(snapshotOf(t, a, key, clusterA)))
	require.NoError(t, err)
	require.Equal(t, before, cacheSize())
}
