// Package porttest holds the contract suites every adapter of a port must
// pass. A behaviour fixed in one adapter gets a case here so the others
// cannot drift: "swap adapters in tests" is a promise we test.
package porttest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// OpenStore returns a fresh, empty store for one test. It owns the cleanup:
// register Close with t.Cleanup (the suite never closes a store it opened
// through OpenStore).
type OpenStore func(t *testing.T) ports.Store

// storeCase is one named behaviour of the contract.
type storeCase struct {
	name string
	run  func(t *testing.T, open OpenStore)
}

// RunStoreSuite runs every case of the ports.Store contract against stores
// made by open. Cases for optional interfaces (ports.Pruner,
// ports.Snapshotter) run only when the store implements them.
//
// Decisions the port's doc comments leave open are fixed here, each next to
// the case that tests it, so every adapter makes the same choice.
func RunStoreSuite(t *testing.T, open OpenStore) {
	groups := []struct {
		name  string
		cases []storeCase
	}{
		{"Commit", commitCases},
		{"ApplyRemote", applyCases},
		{"Documents", documentCases},
		{"Oplog", oplogCases},
		{"Count", countCases},
		{"Peers", peerCases},
		{"Meta", metaCases},
		{"Concurrency", concurrencyCases},
		{"Pruner", prunerCases},
		{"Snapshotter", snapshotCases},
		{"PeerKeys", peerKeysCases},
		{"Proofs", proofCases},
		{"Compaction", compactionCases},
		{"Expiry", expiryCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, open) })
			}
		})
	}
}

// baseWall is a realistic 13-digit HLC wall (the TypeScript node compares
// walls as text, so tests never use short walls).
const baseWall int64 = 1_700_000_000_000

var lww domain.Resolver = domain.LastWriteWins{}

func ts(wallOffset int64, logical int32, node string) domain.Timestamp {
	return domain.Timestamp{Wall: baseWall + wallOffset, Logical: logical, Node: node}
}

// author builds one node's sealed entries, as a remote peer would send them.
type author struct {
	node string
	prev string
}

func newAuthor(node string) *author { return &author{node: node} }

func (a *author) put(coll, key, data string, wallOffset int64, logical int32) domain.Entry {
	e := domain.Entry{Collection: coll, Key: key, Op: domain.OpPut, Data: []byte(data), Stamp: ts(wallOffset, logical, a.node)}
	e.Seal(a.prev)
	a.prev = e.Hash
	return e
}

func (a *author) del(coll, key string, wallOffset int64, logical int32) domain.Entry {
	e := domain.Entry{Collection: coll, Key: key, Op: domain.OpDelete, Stamp: ts(wallOffset, logical, a.node)}
	e.Seal(a.prev)
	a.prev = e.Hash
	return e
}

// putW and delW are unsealed local writes for Commit.
func putW(coll, key, data string, stamp domain.Timestamp) ports.Write {
	return ports.Write{Entry: domain.Entry{Collection: coll, Key: key, Op: domain.OpPut, Data: []byte(data), Stamp: stamp}}
}

func delW(coll, key string, stamp domain.Timestamp) ports.Write {
	return ports.Write{Entry: domain.Entry{Collection: coll, Key: key, Op: domain.OpDelete, Stamp: stamp}, MustExist: true}
}

func ifVersion(w ports.Write, v domain.Timestamp) ports.Write {
	w.IfVersion = &v
	return w
}

func mustCommit(t *testing.T, s ports.Store, r domain.Resolver, writes ...ports.Write) []domain.Entry {
	t.Helper()
	out, err := s.Commit(t.Context(), r, writes...)
	require.NoError(t, err)
	require.Len(t, out, len(writes))
	return out
}

func mustApply(t *testing.T, s ports.Store, r domain.Resolver, entries ...domain.Entry) ports.ApplyResult {
	t.Helper()
	res, err := s.ApplyRemote(t.Context(), r, entries)
	require.NoError(t, err)
	return res
}

func requireCode(t *testing.T, err error, code domain.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, domain.CodeOf(err), "error: %v", err)
}

func requireNotFound(t *testing.T, s ports.Store, coll, key string) {
	t.Helper()
	_, err := s.Get(t.Context(), coll, key)
	requireCode(t, err, domain.CodeNotFound)
	require.ErrorIs(t, err, domain.ErrNotFound)
}

// requireDoc checks the live document (coll, key) has exactly data (byte for
// byte: "the JSON text exactly as its author wrote it") and stamp.
func requireDoc(t *testing.T, s ports.Store, coll, key, data string, stamp domain.Timestamp) {
	t.Helper()
	d, err := s.Get(t.Context(), coll, key)
	require.NoError(t, err)
	require.Equal(t, coll, d.Collection)
	require.Equal(t, key, d.Key)
	require.False(t, d.Deleted)
	require.Equal(t, data, string(d.Data))
	require.Equal(t, stamp, d.Stamp)
}

// requireEmptyStore checks that nothing at all was written.
func requireEmptyStore(t *testing.T, s ports.Store) {
	t.Helper()
	ctx := t.Context()
	feed, err := s.EntriesSinceSeq(ctx, 0, 0)
	require.NoError(t, err)
	require.Empty(t, feed, "oplog")
	vc, err := s.VectorClock(ctx)
	require.NoError(t, err)
	require.Empty(t, vc, "vector clock")
	heads, err := s.Heads(ctx)
	require.NoError(t, err)
	require.Empty(t, heads, "heads")
	colls, err := s.Collections(ctx)
	require.NoError(t, err)
	require.Empty(t, colls, "collections")
	newest, err := s.NewestStamp(ctx)
	require.NoError(t, err)
	require.True(t, newest.IsZero(), "newest stamp %v", newest)
}

// sameEntry compares the wire-visible fields of two entries (Seq is local).
func sameEntry(t *testing.T, want, got domain.Entry) {
	t.Helper()
	require.Equal(t, want.Collection, got.Collection)
	require.Equal(t, want.Key, got.Key)
	require.Equal(t, want.Op, got.Op)
	require.Equal(t, string(want.Data), string(got.Data))
	require.Equal(t, want.Stamp, got.Stamp)
	require.Equal(t, want.Hash, got.Hash)
	require.Equal(t, want.PrevHash, got.PrevHash)
}

func sameEntries(t *testing.T, want, got []domain.Entry) {
	t.Helper()
	require.Len(t, got, len(want), "got %v", stamps(got))
	for i := range want {
		sameEntry(t, want[i], got[i])
	}
}

func stamps(es []domain.Entry) []string {
	out := make([]string, len(es))
	for i := range es {
		out[i] = es[i].Stamp.String() + "/" + es[i].Key
	}
	return out
}

func docKeys(docs []domain.Document) []string {
	out := make([]string, len(docs))
	for i := range docs {
		out[i] = docs[i].Key
	}
	return out
}

// lastChanged returns, per collection/key, the last state ApplyResult.Changed
// reported across results.
func lastChanged(results ...ports.ApplyResult) map[string]domain.Document {
	m := map[string]domain.Document{}
	for _, r := range results {
		for _, d := range r.Changed {
			m[d.Collection+"/"+d.Key] = d
		}
	}
	return m
}

func sameDoc(a, b domain.Document) bool {
	return a.Collection == b.Collection && a.Key == b.Key && a.Stamp == b.Stamp &&
		a.Deleted == b.Deleted && bytes.Equal(a.Data, b.Data)
}

// permutations returns every ordering of n indexes (n is small).
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := make([]int, 0, n)
			q = append(q, p[:i]...)
			q = append(q, n-1)
			q = append(q, p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// logResolver is an order-sensitive resolver that exercises the NeedsReplay
// path: a document is {"log": [...]} listing the "v" of every put since the
// last delete, in the order applied. An older entry arriving after a newer
// one asks for a replay, so the final state must equal domain.Replay over
// every entry held for the key whatever the arrival order.
type logResolver struct{}

func (logResolver) Name() string { return "test-log" }

func (logResolver) Resolve(cur *domain.Document, in *domain.Entry) (domain.Document, domain.Outcome) {
	if cur != nil && !in.Stamp.After(cur.Stamp) {
		if in.Stamp == cur.Stamp {
			return *cur, domain.Unchanged
		}
		return domain.Document{}, domain.NeedsReplay
	}
	if in.Op == domain.OpDelete {
		return domain.DocumentFromEntry(in), domain.Changed
	}
	var state struct {
		Log []string `json:"log"`
	}
	if cur != nil && !cur.Deleted {
		_ = json.Unmarshal(cur.Data, &state)
	}
	var inc struct {
		V string `json:"v"`
	}
	_ = json.Unmarshal(in.Data, &inc)
	state.Log = append(state.Log, inc.V)
	data, _ := json.Marshal(state)
	return domain.Document{Collection: in.Collection, Key: in.Key, Data: data, Stamp: in.Stamp}, domain.Changed
}

// ctxCanceled returns an already canceled context.
func ctxCanceled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
