package app

import (
	"github.com/entgldb/entgldb-go/ports/porttest"

	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// An in-process network for the sync logic: sessions call the peer's
// SyncService directly, with switches to take nodes down, cut links, and
// make a peer speak only v4 or only pulls.

type syncNet struct {
	mu    sync.Mutex
	nodes map[string]*syncNode // by address
	down  map[string]bool      // address → unreachable
	cut   map[[2]string]bool   // {from node id, to address} → link cut
	// dials counts dial attempts, per address.
	dials map[string]int
}

func newSyncNet() *syncNet {
	return &syncNet{nodes: map[string]*syncNode{}, down: map[string]bool{}, cut: map[[2]string]bool{}, dials: map[string]int{}}
}

func (n *syncNet) setDown(addr string, down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down[addr] = down
}

func (n *syncNet) setCut(fromID, toAddr string, cut bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[[2]string{fromID, toAddr}] = cut
}

// partition cuts every link between the two groups, both ways.
func (n *syncNet) partition(a, b []*syncNode, cut bool) {
	for _, x := range a {
		for _, y := range b {
			n.setCut(x.id, y.addr, cut)
			n.setCut(y.id, x.addr, cut)
		}
	}
}

type syncDialer struct {
	net  *syncNet
	from string // node id of the dialing side
}

func (d *syncDialer) Dial(ctx context.Context, addr string) (ports.PeerSession, error) {
	d.net.mu.Lock()
	d.net.dials[addr]++
	node, ok := d.net.nodes[addr]
	blocked := !ok || d.net.down[addr] || d.net.cut[[2]string{d.from, addr}]
	d.net.mu.Unlock()
	if blocked {
		return nil, domain.Errorf(domain.CodeNetwork, "fake.Dial", "connection refused: %s", addr)
	}
	return &syncSession{node: node, info: ports.PeerInfo{NodeID: d.from}}, nil
}

// syncSession is a ports.PeerSession calling a SyncService in process.
type syncSession struct {
	node *syncNode
	info ports.PeerInfo
}

func (s *syncSession) PeerID() string { return s.node.id }

func (s *syncSession) GetClock(ctx context.Context) (domain.Timestamp, error) {
	if s.node.level.Load() >= levelPullOnly {
		return domain.Timestamp{}, domain.Errorf(domain.CodeNetwork, "fake.GetClock", "connection closed by peer")
	}
	s.info.AskedClock = true
	return s.node.svc.GetClock(ctx, s.info)
}

func (s *syncSession) PullChanges(ctx context.Context, req ports.PullRequest) ([]domain.Entry, error) {
	es, err := s.node.svc.PullChanges(ctx, s.info, req)
	if drop := s.node.dropInPull.Load(); drop != nil && err == nil {
		kept := es[:0:0]
		for _, e := range es {
			if !(*drop)(e) {
				kept = append(kept, e)
			}
		}
		if len(kept) < len(es) && s.node.convertErr.Load() {
			err = domain.Errorf(domain.CodeSync, "fake.PullChanges", "%d received entries rejected", len(es)-len(kept))
		}
		es = kept
	}
	s.node.pulls.Add(1)
	return cloneEntries(es), err
}

func (s *syncSession) PushChanges(ctx context.Context, entries []domain.Entry) (bool, error) {
	s.node.pushes.Add(1)
	return s.node.svc.PushChanges(ctx, s.info, cloneEntries(entries))
}

func (s *syncSession) GetVectorClock(ctx context.Context) (domain.VectorClock, error) {
	if s.node.level.Load() >= levelV4 {
		return nil, domain.Errorf(domain.CodeNetwork, "fake.GetVectorClock", "connection closed by peer")
	}
	s.info.AskedClock = true
	vc, err := s.node.svc.GetVectorClock(ctx, s.info)
	// The wire carries no node in a vector-clock entry's stamp.
	out := domain.VectorClock{}
	for a, ts := range vc {
		ts.Node = ""
		out[a] = ts
	}
	return out, err
}

func (s *syncSession) GetChainRange(ctx context.Context, startHash, endHash string) ([]domain.Entry, bool, error) {
	s.node.ranges.Add(1)
	es, snap, err := s.node.svc.GetChainRange(ctx, s.info, startHash, endHash)
	return cloneEntries(es), snap, err
}

func (s *syncSession) GetSnapshot(ctx context.Context) ([]byte, error) {
	var buf []byte
	err := s.node.svc.GetSnapshot(ctx, s.info, func(chunk []byte, last bool) error {
		if len(chunk) > SnapshotChunkBytes {
			return fmt.Errorf("chunk of %d bytes", len(chunk))
		}
		buf = append(buf, chunk...)
		return nil
	})
	return buf, err
}

func (s *syncSession) Close() error { return nil }

func cloneEntries(es []domain.Entry) []domain.Entry {
	out := make([]domain.Entry, len(es))
	for i, e := range es {
		e.Data = append([]byte(nil), e.Data...)
		e.Seq = 0
		out[i] = e
	}
	return out
}

// passExec runs operations once, with no policies.
type passExec struct{ open map[string]bool }

func (p passExec) Run(ctx context.Context, _ string, fn func(ctx context.Context) error) error {
	return fn(ctx)
}
func (p passExec) BreakerOpen(peer string) bool { return p.open[peer] }

const (
	levelV5 int32 = iota
	levelV4
	levelPullOnly
)

// syncNode is one in-process node.
type syncNode struct {
	id, addr string
	store    *memory.Store
	clock    *domain.Clock
	db       *Database
	queue    *OfflineQueue
	status   *StatusTracker
	svc      *SyncService
	engine   *SyncEngine
	skew     atomic.Int64 // ms added to the physical clock

	level                 atomic.Int32 // levelV5 / levelV4 / levelPullOnly
	dropInPull            atomic.Pointer[func(domain.Entry) bool]
	convertErr            atomic.Bool // dropped entries come with a SYNC_ERROR
	pulls, pushes, ranges atomic.Int64
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
	node.db, err = NewDatabase(node.store, nil, node.clock, zap.NewNop(), DatabaseOptions{})
	require.NoError(t, err)
	node.queue = NewOfflineQueue(node.store, QueueOptions{Enabled: o.queue, MaxSize: 1000}, zap.NewNop())
	node.status = NewStatusTracker(id, StatusOptions{})
	node.svc, err = NewSyncService(node.db, node.store, node.clock, node.status, zap.NewNop(), SyncOptions{BatchSize: o.batch})
	require.NoError(t, err)
	interval := o.interval
	if interval == 0 {
		interval = time.Hour // rounds only through SyncNow unless asked
	}
	node.engine, err = NewSyncEngine(node.db, node.store, &syncDialer{net: n, from: id}, passExec{}, nil,
		node.queue, node.status, node.clock, zap.NewNop(),
		EngineOptions{NodeID: id, Interval: interval, BatchSize: o.batch, StaticPeers: o.peers,
			VectorClockTimeout: time.Second, GossipLockWait: 200 * time.Millisecond})
	require.NoError(t, err)
	n.mu.Lock()
	n.nodes[node.addr] = node
	n.mu.Unlock()
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
