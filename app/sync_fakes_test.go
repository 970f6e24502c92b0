package app

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/memnet"
	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports/porttest"
)

// syncNet is the in-process network the sync tests run on: sessions call
// the peer's SyncService directly (adapters/memnet).
type syncNet struct{ *memnet.Network }

func newSyncNet() *syncNet { return &syncNet{memnet.New()} }

func (n *syncNet) setDown(addr string, down bool) { n.SetDown(addr, down) }

// partition cuts every link between the two groups, both ways.
func (n *syncNet) partition(a, b []*syncNode, cut bool) {
	n.Partition(hosts(a), hosts(b), cut)
}

func hosts(nodes []*syncNode) []*memnet.Host {
	out := make([]*memnet.Host, len(nodes))
	for i, node := range nodes {
		out[i] = node.host
	}
	return out
}

// The switches and counters of a node's memnet.Host, under the names the
// tests use.

type levelSwitch struct{ host *memnet.Host }

func (s levelSwitch) Store(level int32) { s.host.SetMode(memnet.Mode(level)) }

type dropSwitch struct{ host *memnet.Host }

func (s dropSwitch) Store(drop *func(domain.Entry) bool) { s.host.DropFromPulls(*drop) }

type rejectSwitch struct{ host *memnet.Host }

func (s rejectSwitch) Store(reject bool) { s.host.RejectDropped(reject) }

type servedCount func() int64

func (c servedCount) Load() int64 { return c() }

// passExec runs operations once, with no policies.
type passExec struct{ open map[string]bool }

func (p passExec) Run(ctx context.Context, _ string, fn func(ctx context.Context) error) error {
	return fn(ctx)
}
func (p passExec) BreakerOpen(peer string) bool { return p.open[peer] }

const (
	levelV5       = int32(memnet.ModeV5)
	levelV4       = int32(memnet.ModeV4)
	levelPullOnly = int32(memnet.ModePullOnly)
)

// syncNode is one in-process node.
type syncNode struct {
	id, addr string
	store    *memory.Store
	clock    *domain.Clock
	db       *Database
	queue    *OfflineQueue
	clocks   *PeerClocks
	status   *StatusTracker
	svc      *SyncService
	engine   *SyncEngine
	host     *memnet.Host
	skew     atomic.Int64 // ms added to the physical clock

	level                 levelSwitch // levelV5 / levelV4 / levelPullOnly
	dropInPull            dropSwitch
	convertErr            rejectSwitch // dropped entries come with a SYNC_ERROR
	pulls, pushes, ranges servedCount
}

type syncNodeOpts struct {
	queue    bool
	interval time.Duration
	peers    []string // addresses; default: every other node
	batch    int
}

const testMaxDrift = 60_000

func (n *syncNet) addNode(t *testing.T, id string, o syncNodeOpts) *syncNode {
	t.Helper()
	node := &syncNode{id: id, addr: id + ":1"}
	node.store = memory.New()
	node.clock = domain.NewClock(id, func() int64 { return time.Now().UnixMilli() + node.skew.Load() }, testMaxDrift)
	var err error
	outbox := NewOutbox(0)
	node.db, err = NewDatabase(node.store, nil, node.clock, zap.NewNop(), DatabaseOptions{Outbox: outbox})
	require.NoError(t, err)
	node.clocks = NewPeerClocks(node.store)
	node.queue = NewOfflineQueue(node.store, node.clocks, id, QueueOptions{Enabled: o.queue, MaxSize: 1000}, zap.NewNop())
	node.status = NewStatusTracker(id, StatusOptions{})
	node.svc, err = NewSyncService(node.db, node.store, node.clock, node.status, zap.NewNop(), SyncOptions{BatchSize: o.batch})
	require.NoError(t, err)
	interval := o.interval
	if interval == 0 {
		interval = time.Hour // rounds only through SyncNow unless asked
	}
	node.engine, err = NewSyncEngine(SyncEngineDeps{Database: node.db, Store: node.store,
		Dialer: n.Dialer(id), Executor: passExec{}, Clock: node.clock, Outbox: outbox,
		Queue: node.queue, PeerClocks: node.clocks, Status: node.status, Logger: zap.NewNop()},
		EngineOptions{NodeID: id, Interval: interval, BatchSize: o.batch, StaticPeers: o.peers,
			VectorClockTimeout: time.Second, GossipLockWait: 200 * time.Millisecond})
	require.NoError(t, err)
	node.host = n.Listen(node.addr, id, node.svc)
	node.level, node.dropInPull, node.convertErr = levelSwitch{node.host}, dropSwitch{node.host}, rejectSwitch{node.host}
	node.pulls, node.pushes, node.ranges = node.host.Pulls, node.host.Pushes, node.host.ChainRanges
	return node
}

// mesh builds count nodes, each with every other as a static peer.
func (n *syncNet) mesh(t *testing.T, count int, o syncNodeOpts) []*syncNode {
	t.Helper()
	nodes := make([]*syncNode, count)
	for i := range nodes {
		nodes[i] = n.addNode(t, fmt.Sprintf("n%d", i), o)
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.engine.opts.StaticPeers = append(a.engine.opts.StaticPeers, b.addr)
			}
		}
	}
	return nodes
}

func (n *syncNode) put(t *testing.T, collection, key, body string) domain.Timestamp {
	t.Helper()
	ts, err := n.db.Put(context.Background(), collection, key, []byte(body), nil)
	require.NoError(t, err)
	return ts
}

func (n *syncNode) del(t *testing.T, collection, key string) domain.Timestamp {
	t.Helper()
	ts, err := n.db.Delete(context.Background(), collection, key)
	require.NoError(t, err)
	return ts
}

// body returns the live document's JSON, "" when missing or deleted.
func (n *syncNode) body(t *testing.T, collection, key string) string {
	t.Helper()
	d, err := n.db.Get(context.Background(), collection, key)
	if domain.CodeOf(err) == domain.CodeNotFound {
		return ""
	}
	require.NoError(t, err)
	return string(d.Data)
}

// stateHash digests every document (tombstones included) and the vector
// clock: equal hashes mean identical databases.
func (n *syncNode) stateHash(t *testing.T) string {
	t.Helper()
	h, err := porttest.StateHash(context.Background(), n.store)
	require.NoError(t, err)
	return h
}

func (n *syncNode) vc(t *testing.T) domain.VectorClock {
	t.Helper()
	vc, err := n.store.VectorClock(context.Background())
	require.NoError(t, err)
	return vc
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func requireConverged(t *testing.T, nodes []*syncNode) {
	t.Helper()
	want := nodes[0].stateHash(t)
	for _, n := range nodes[1:] {
		require.Equal(t, want, n.stateHash(t), "%s differs from %s", n.id, nodes[0].id)
	}
}

// localEntries returns the node's own oplog entry sealed at ts, as the
// outbox hands it to gossip.
func (n *syncNode) localEntries(t *testing.T, ts domain.Timestamp) []domain.Entry {
	t.Helper()
	es, err := n.store.AuthorEntriesAfter(context.Background(), n.id, ts.Prev(), 1)
	require.NoError(t, err)
	require.Len(t, es, 1)
	return es
}
