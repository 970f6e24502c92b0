package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// A rejected entry in the middle of a page leaves the others, in order.
func TestValidateEntriesKeepsOrder(t *testing.T) {
	clock := domain.NewClock("me", func() int64 { return time.Now().UnixMilli() }, testMaxDrift)
	page := chainOf("a", time.Now().UnixMilli(), 6, "")
	page[2].Hash = page[3].Hash // tampered
	page[4].Stamp.Node = ""     // no author
	valid, rejected := validateEntries(clock, domain.EntryLimits{}, page)
	require.Len(t, rejected, 2)
	require.Equal(t, []domain.Entry{page[0], page[1], page[3], page[5]}, valid)

	valid, rejected = validateEntries(clock, domain.EntryLimits{}, page[:2])
	require.Empty(t, rejected)
	require.Equal(t, page[:2], valid)
}

// unfitEntry is an entry no local write could have produced, sealed so
// that its hash is right: the content checks alone must refuse it.
type unfitEntry struct {
	name   string
	entry  domain.Entry
	reason string // in the refusal's message
}

// unfitEntries are the ways a peer's entry can be unfit, each by its own
// author so that refusing one breaks no other entry's chain.
func unfitEntries(wall int64) []unfitEntry {
	deep := strings.Repeat(`{"a":`, 2000) + `1` + strings.Repeat(`}`, 2000)
	mk := func(i int, collection, key, author, data string) domain.Entry {
		if author == "" {
			author = fmt.Sprintf("unfit-%d", i)
		}
		e := domain.Entry{Collection: collection, Key: key, Op: domain.OpPut, Data: []byte(data),
			Stamp: domain.Timestamp{Wall: wall, Logical: int32(i), Node: author}}
		e.Seal("")
		return e
	}
	return []unfitEntry{
		{"reserved collection", mk(0, "_system", "k", "", `{}`), "reserved"},
		{"path as collection", mk(1, "../../etc/passwd", "k", "", `{}`), "collection"},
		{"100 KB collection name", mk(2, strings.Repeat("c", 100<<10), "k", "", `{}`), "collection"},
		{"1 MiB key", mk(3, "c", strings.Repeat("k", 1<<20), "", `{}`), "key"},
		{"1 MiB node id", mk(4, "c", "long-author", strings.Repeat("n", 1<<20), `{}`), "node id"},
		{"12 MiB document", mk(5, "c", "huge", "", `{"a":"`+strings.Repeat("x", 12<<20)+`"}`), "limit"},
		{"invalid UTF-8 in a string", mk(6, "c", "utf8", "", "{\"a\":\"\xff\xfe\"}"), "UTF-8"},
		{"invalid UTF-8 in a key", mk(7, "c", "k\xff", "", `{}`), "UTF-8"},
		{"invalid UTF-8 in a node id", mk(8, "c", "utf8-author", "n\xff", `{}`), "UTF-8"},
		{"nested 2000 levels", mk(9, "c", "deep", "", deep), "nest"},
		{"not JSON", mk(10, "c", "broken", "", `{"a":`), "JSON"},
		{"put without a document", mk(11, "c", "empty", "", ``), "JSON"},
		{"malformed previous hash", func() domain.Entry {
			e := mk(12, "c", "prev", "", `{}`)
			e.Hash = ""
			e.PrevHash = strings.Repeat("p", 1<<20)
			return e
		}(), "hash"},
	}
}

// requireUnfitAbsent checks that no unfit entry reached the store.
func requireUnfitAbsent(t *testing.T, store ports.Store, unfit []unfitEntry) {
	t.Helper()
	vc, err := store.VectorClock(context.Background())
	require.NoError(t, err)
	for _, u := range unfit {
		_, err := store.Get(context.Background(), u.entry.Collection, u.entry.Key)
		require.Equal(t, domain.CodeNotFound, domain.CodeOf(err), "%s was stored", u.name)
		require.NotContains(t, vc, u.entry.Stamp.Node, "%s advanced the vector clock", u.name)
	}
}

// Each unfit entry is refused with its reason, in a message that does not
// carry the oversized field.
func TestValidateEntriesRefusesWhatNoLocalWriteCouldBe(t *testing.T) {
	now := time.Now().UnixMilli()
	clock := domain.NewClock("me", func() int64 { return now }, testMaxDrift)
	for _, u := range unfitEntries(now) {
		t.Run(u.name, func(t *testing.T) {
			valid, rejected := validateEntries(clock, domain.EntryLimits{}, []domain.Entry{u.entry})
			require.Zero(t, len(valid), "the entry was let through")
			require.Len(t, rejected, 1)
			assert.ErrorIs(t, rejected[0].err, domain.ErrSync)
			msg := rejected[0].err.Error()
			assert.Contains(t, msg, u.reason)
			assert.Less(t, len(msg), 1024, "the refusal must not carry the oversized field")
		})
	}
	t.Run("a document over a configured limit", func(t *testing.T) {
		e := chainOf("a", now, 1, "")[0]
		e.Data = []byte(`{"a":"` + strings.Repeat("x", 100) + `"}`)
		_, rejected := validateEntries(clock, domain.EntryLimits{MaxDocumentBytes: 64}, []domain.Entry{e})
		require.Len(t, rejected, 1)
		assert.ErrorIs(t, rejected[0].err, domain.ErrTooLarge)
	})
	t.Run("any JSON value from a family node", func(t *testing.T) {
		e := chainOf("a", now, 1, "")[0]
		e.Data = []byte(`[1,2]`)
		valid, rejected := validateEntries(clock, domain.EntryLimits{}, []domain.Entry{e})
		require.Empty(t, rejected)
		require.Len(t, valid, 1)
	})
}

// A push holding every kind of unfit entry among good ones stores the good
// ones only (real SQLite).
func TestPushRefusesUnfitEntriesAndAppliesTheRest(t *testing.T) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "entgldb.db"), EnableWAL: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	clock := domain.NewClock("srv", func() int64 { return time.Now().UnixMilli() }, testMaxDrift)
	db, err := NewDatabase(store, nil, clock, zap.NewNop(), DatabaseOptions{})
	require.NoError(t, err)
	status := NewStatusTracker("srv", StatusOptions{})
	svc, err := NewSyncService(db, store, clock, status, zap.NewNop(), SyncOptions{})
	require.NoError(t, err)

	now := time.Now().UnixMilli()
	good := proven(chainOf("g", now, 3, "")...)
	unfit := unfitEntries(now)
	var batch []domain.Entry
	for i, u := range unfit {
		batch = append(batch, u.entry)
		if i < len(good) {
			batch = append(batch, good[i])
		}
	}
	_, err = svc.PushChanges(ctx, ports.PeerInfo{NodeID: "peer"}, batch)
	require.ErrorIs(t, err, ports.ErrEntriesRefused, "the push is answered success=false, the session goes on")
	assert.Equal(t, int64(len(unfit)), svc.Rejected())
	for _, e := range good {
		d, err := store.Get(ctx, "c", e.Key)
		require.NoError(t, err)
		assert.Equal(t, string(e.Data), string(d.Data))
	}
	requireUnfitAbsent(t, store, unfit)
}

// Unfit entries a peer serves are refused on pull; its good entries flow.
func TestPullRefusesUnfitEntriesAndAppliesTheRest(t *testing.T) {
	ctx := t.Context()
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{})
	s := net.addNode(t, "s", syncNodeOpts{})
	a.engine.opts.StaticPeers = []string{s.addr}
	s.engine.opts.StaticPeers = []string{a.addr}

	// s's store took them without validation (as a node before this check
	// would have); s then serves them.
	unfit := unfitEntries(time.Now().UnixMilli())
	for _, u := range unfit {
		_, err := s.store.ApplyRemote(ctx, domain.LastWriteWins{}, []domain.Entry{u.entry})
		require.NoError(t, err, u.name)
	}
	s.put(t, "c", "after", `{"ok":true}`)
	require.NoError(t, a.engine.SyncNow(ctx))
	assert.Equal(t, `{"ok":true}`, a.body(t, "c", "after"))
	requireUnfitAbsent(t, a.store, unfit)
	assert.Equal(t, int64(len(unfit)), a.engine.Stats().EntriesRejected)
}

// A snapshot holding the unfit entries' documents (the peer's history of
// them pruned) is applied without them.
func TestSnapshotRefusesUnfitDocuments(t *testing.T) {
	ctx := t.Context()
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{})
	unfit := unfitEntries(time.Now().UnixMilli())
	for _, u := range unfit {
		_, err := a.store.ApplyRemote(ctx, domain.LastWriteWins{}, []domain.Entry{u.entry})
		require.NoError(t, err, u.name)
	}
	a.put(t, "c", "good", `{"ok":true}`)
	_, err := a.store.Prune(ctx, time.Now().UnixMilli()+1)
	require.NoError(t, err)

	c := net.addNode(t, "c", syncNodeOpts{peers: []string{a.addr}})
	require.NoError(t, c.engine.SyncNow(ctx))
	require.Equal(t, int64(1), c.engine.Stats().Snapshots)
	assert.Equal(t, `{"ok":true}`, c.body(t, "c", "good"))
	for _, u := range unfit {
		if u.entry.PrevHash != "" {
			continue // unfit for its hashes: a snapshot's documents carry none
		}
		_, err := c.store.Get(ctx, u.entry.Collection, u.entry.Key)
		require.Equal(t, domain.CodeNotFound, domain.CodeOf(err), "%s was stored", u.name)
	}
	for author := range c.vc(t) {
		require.NoError(t, domain.ValidateNodeID(author), "an author no entry could carry")
	}
	found := false
	for _, e := range c.status.RecentErrors() {
		found = found || e.Peer == "a" && strings.Contains(e.Message, "snapshot documents refused")
	}
	assert.True(t, found, "the refusal is reported with the peer: %+v", c.status.RecentErrors())
}
