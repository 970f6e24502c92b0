package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// TestMigrateV3ToV4 opens a file written at schema version 3 (no links):
// the migration links every held chain per author in stamp order — from
// GenesisLink for a chain held from its start, from BoundaryLink for one
// held from a boundary, none for a hashless entry, and a restart from the
// boundary after it and after an entry that does not follow the one
// before — and the store then chains local writes on from the links.
func TestMigrateV3ToV4(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v3.db")

	chains := map[string][]domain.Entry{}
	add := func(node string, wall int64, key string, op domain.Op, prevHash string, hashless bool) {
		e := domain.Entry{Collection: "c", Key: key, Op: op, Stamp: domain.Timestamp{Wall: wall, Node: node}}
		if op == domain.OpPut {
			e.Data = fmt.Appendf(nil, `{"by":%q,"wall":%d}`, node, wall)
		}
		if !hashless {
			e.Seal(prevHash)
		}
		chains[node] = append(chains[node], e)
	}
	last := func(node string) string { return chains[node][len(chains[node])-1].Hash }
	add("A", pendWall0+1, "a1", domain.OpPut, "", false)
	add("A", pendWall0+2, "a1", domain.OpDelete, last("A"), false)
	add("A", pendWall0+3, "a2", domain.OpPut, last("A"), false)
	add("B", pendWall0+1, "b1", domain.OpPut, "pruned-before-b", false)
	add("B", pendWall0+4, "b2", domain.OpPut, last("B"), false)
	add("L", pendWall0+1, "l1", domain.OpPut, "", true)
	add("L", pendWall0+2, "l2", domain.OpPut, "", false)
	add("L", pendWall0+3, "l3", domain.OpPut, last("L"), false)
	add("L", pendWall0+4, "l4", domain.OpPut, "elsewhere", false)

	raw, exec := rawAtVersion(t, path, 3)
	exec(`INSERT INTO meta (key, value) VALUES ('schema_version', '3')`)
	// Seqs not in chain order: B's entries arrived newest first.
	order := []struct {
		node string
		i    int
	}{{"B", 1}, {"A", 0}, {"L", 0}, {"A", 1}, {"B", 0}, {"L", 1}, {"A", 2}, {"L", 2}, {"L", 3}}
	for seq, o := range order {
		e := chains[o.node][o.i]
		exec(`INSERT INTO oplog (seq, collection, key, op, data, wall, logic, node, hash, prev_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			int64(seq+1), e.Collection, e.Key, int(e.Op), nullText(e.Data), e.Stamp.Wall, e.Stamp.Logical, e.Stamp.Node, e.Hash, e.PrevHash)
	}
	for node, chain := range chains {
		h := chain[len(chain)-1]
		exec(`INSERT INTO vclock (author, wall, logic, hash) VALUES (?, ?, ?, ?)`, node, h.Stamp.Wall, h.Stamp.Logical, h.Hash)
	}
	exec(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, metaMaterializedSeq, strconv.Itoa(len(order)))
	peerKey := make([]byte, 32)
	peerKey[0] = 7
	exec(`INSERT INTO peer_keys (node_id, public_key, first_seen) VALUES ('B', ?, 1)`, peerKey)
	require.NoError(t, raw.Close())

	s := pendOpen(t, path)
	var version string
	require.NoError(t, s.writer.DB.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, metaSchemaVersion).Scan(&version))
	require.Equal(t, strconv.Itoa(SchemaVersion), version)

	l := chains["L"]
	want := map[string][][]byte{
		"A": domain.LinkRun(domain.GenesisLink, chains["A"]),
		"B": domain.LinkRun(domain.BoundaryLink("pruned-before-b"), chains["B"]),
		"L": {
			nil, // hashless: cannot be linked
			domain.LinkRun(domain.GenesisLink, l[1:2])[0], // restarts: its PrevHash is "", a chain start
			domain.LinkRun(domain.GenesisLink, l[1:3])[1],
			domain.LinkRun(domain.BoundaryLink("elsewhere"), l[3:4])[0], // does not follow l[2]
		},
	}
	for node, links := range want {
		got, err := s.AuthorEntriesAfter(ctx, node, domain.Timestamp{}, 0)
		require.NoError(t, err)
		require.Len(t, got, len(links), node)
		for i := range got {
			require.Equal(t, chains[node][i].Hash, got[i].Hash, "%s %d: stamp order", node, i)
			require.Equal(t, links[i], got[i].Link, "%s %d", node, i)
			require.Nil(t, got[i].Proof)
			require.False(t, got[i].Legacy)
		}
	}
	tail, proof, err := s.ProofAfter(ctx, "A", domain.Timestamp{})
	require.NoError(t, err)
	require.Nil(t, proof, "nothing held before version 4 carries a proof")
	require.Empty(t, tail)
	key, known, err := s.PeerKey(ctx, "B")
	require.NoError(t, err)
	require.True(t, known)
	require.Equal(t, peerKey, key)

	// A local write chains on from the head's migrated link.
	got, err := s.Commit(ctx, pendLWW, ports.Write{Entry: domain.Entry{Collection: "c", Key: "a3", Op: domain.OpPut, Data: []byte(`{}`),
		Stamp: domain.Timestamp{Wall: pendWall0 + 10, Node: "A"}}})
	require.NoError(t, err)
	require.Equal(t, last("A"), got[0].PrevHash)
	require.Equal(t, domain.LinkRun(want["A"][2], got), [][]byte{got[0].Link})
}

// rawAtVersion creates the file at path with the schema of version v (its
// migrations' SQL only: a file as that release left it, empty) and returns
// it open with a helper that runs a statement.
func rawAtVersion(t *testing.T, path string, v int) (*sql.DB, func(query string, args ...any)) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+escapePath(path))
	require.NoError(t, err)
	raw.SetMaxOpenConns(1)
	for i := range v {
		for _, stmt := range migrations[i] {
			_, err := raw.ExecContext(t.Context(), stmt)
			require.NoError(t, err)
		}
	}
	return raw, func(query string, args ...any) {
		t.Helper()
		_, err := raw.ExecContext(t.Context(), query, args...)
		require.NoError(t, err)
	}
}
