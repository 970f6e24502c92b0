// Package synctest starts real entgldb nodes in process — SQLite stores in
// temporary directories, TCP servers and dialers on 127.0.0.1 (or the
// in-process network of adapters/memnet), sync engines with static peers —
// and gives tests what they need to drive them: fault injection between
// nodes, wait helpers with deadlines, and a digest of a node's whole state
// to compare nodes.
package synctest

import (
	"crypto/ed25519"
	"github.com/entgldb/entgldb-go/ports/porttest"

	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/memnet"
	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/retry"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/adapters/tcp"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Options shape every node of a cluster. Zero values take the defaults.
type Options struct {
	AuthToken string // cluster secret (default "secret"): the nodes' Noise PSK
	// Secure selects the legacy channel mode, which only the v5 handshake
	// with listed legacy peers uses: Go nodes always meet over Noise.
	Secure      bool
	Compression bool
	// Interval between rounds; 0 means an hour (rounds only via SyncNow).
	Interval  time.Duration
	BatchSize int
	// Fanout is the number of peers per round (default: every peer).
	Fanout   int
	Queue    bool  // offline queue on
	MaxDrift int64 // MaxClockDrift in ms (default 60 s)
	// Run starts the engines (rounds and gossip) at once.
	Run bool
	// Logger for every component (default: none).
	Logger *zap.Logger
	// LegacyPeers are family nodes (host:port) spoken to with the v5
	// handshake (Security.LegacyPeers); their entries are taken unproven.
	LegacyPeers []string
	// MaxResponseBytes caps a family peer's answers and MaxFrameBytes
	// every other frame the dialer reads (0: the dialer's defaults).
	MaxResponseBytes, MaxFrameBytes int
	// RequestTimeout bounds one request (default 20 s).
	RequestTimeout time.Duration
	// InMemory runs the cluster on adapters/memnet instead of TCP: no
	// sockets, no handshake (AuthToken, Secure and Compression do not
	// apply). It is read from Start's options for the whole cluster.
	InMemory bool
}

func (o Options) withDefaults() Options {
	if o.AuthToken == "" {
		o.AuthToken = "secret"
	}
	if o.Interval <= 0 {
		o.Interval = time.Hour
	}
	if o.MaxDrift <= 0 {
		o.MaxDrift = 60_000
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 20 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// Node is one running node.
type Node struct {
	ID string
	// identityKey is the node's ed25519 identity, made at its first start.
	identityKey ed25519.PrivateKey
	Addr        string // its sync listener: 127.0.0.1:port, or id:1 in memory
	Store       *sqlite.Store
	Clock       *domain.Clock
	DB          *app.Database
	Queue       *app.OfflineQueue
	clocks      *app.PeerClocks
	Status      *app.StatusTracker
	Service     *app.SyncService
	Server      *tcp.Server  // nil in memory
	Dialer      *tcp.Dialer  // nil in memory
	Host        *memnet.Host // nil on TCP
	Exec        *retry.Executor
	Engine      *app.SyncEngine
	// Skew is added to the node's physical clock (ms).
	Skew atomic.Int64

	outbox  *app.Outbox // local commits, from DB to Engine
	faults  *Faults
	mem     *memnet.Network // nil on TCP
	dialer  ports.PeerDialer
	opts    Options
	path    string
	peers   []string
	stopped bool
}

// Faults decides which dials fail: a fault-injecting transport between
// nodes on TCP (a partition without touching sockets). In memory, the
// network's own link switches do this.
type Faults struct {
	mu      sync.Mutex
	blocked map[[2]string]bool // {from node id, to address}
}

func (f *Faults) set(from, to string, blocked bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if blocked {
		f.blocked[[2]string{from, to}] = true
	} else {
		delete(f.blocked, [2]string{from, to})
	}
}

func (f *Faults) isBlocked(from, to string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked[[2]string{from, to}]
}

// faultyDialer refuses dials the Faults block, and passes the rest on.
type faultyDialer struct {
	from   string
	faults *Faults
	inner  ports.PeerDialer
}

func (d *faultyDialer) Dial(ctx context.Context, addr string) (ports.PeerSession, error) {
	if d.faults.isBlocked(d.from, addr) {
		return nil, domain.Errorf(domain.CodeNetwork, "synctest.Dial", "partitioned: %s cannot reach %s", d.from, addr)
	}
	return d.inner.Dial(ctx, addr)
}

// Cluster is a set of nodes that know each other as static peers.
type Cluster struct {
	t      testing.TB
	opts   Options
	faults *Faults
	mem    *memnet.Network // nil on TCP
	Nodes  []*Node
}

// Start builds n nodes named n0…n(n-1), each with every other one as a
// static peer. Everything is stopped and removed when the test ends.
func Start(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, opts: opts.withDefaults(), faults: &Faults{blocked: map[[2]string]bool{}}}
	if opts.InMemory {
		c.mem = memnet.New()
	}
	for i := range n {
		c.Nodes = append(c.Nodes, c.newNode(fmt.Sprintf("n%d", i), c.opts))
	}
	for _, node := range c.Nodes {
		var peers []string
		for _, other := range c.Nodes {
			if other != node {
				peers = append(peers, other.Addr)
			}
		}
		c.attachEngine(node, peers)
	}
	return c
}

// AddNode adds a node with its own options (e.g. another cluster key),
// peering with the given addresses (nil: every existing node).
func (c *Cluster) AddNode(id string, opts Options, peers []string) *Node {
	c.t.Helper()
	if peers == nil {
		for _, other := range c.Nodes {
			peers = append(peers, other.Addr)
		}
	}
	node := c.newNode(id, opts.withDefaults())
	c.attachEngine(node, peers)
	c.Nodes = append(c.Nodes, node)
	return node
}

func (c *Cluster) newNode(id string, o Options) *Node {
	t := c.t
	t.Helper()
	node := &Node{ID: id, faults: c.faults, mem: c.mem, opts: o, path: filepath.Join(t.TempDir(), id+".db")}
	node.open(t, 0)
	t.Cleanup(func() { node.stop() })
	return node
}

// open opens the node's store and starts its server on port (0: any; no
// port in memory).
func (node *Node) open(t testing.TB, port int) {
	t.Helper()
	o := node.opts
	store, err := sqlite.Open(context.Background(), sqlite.Options{Path: node.path, EnableWAL: true})
	require.NoError(t, err)
	node.Store = store
	node.Clock = domain.NewClock(node.ID, func() int64 { return time.Now().UnixMilli() + node.Skew.Load() }, o.MaxDrift)
	node.outbox = app.NewOutbox(0)
	node.DB, err = app.NewDatabase(store, nil, node.Clock, o.Logger, app.DatabaseOptions{Outbox: node.outbox})
	require.NoError(t, err)
	node.clocks = app.NewPeerClocks(store)
	node.Queue = app.NewOfflineQueue(store, node.clocks, node.ID, app.QueueOptions{Enabled: o.Queue, MaxSize: 10_000}, o.Logger)
	node.Status = app.NewStatusTracker(node.ID, app.StatusOptions{QueueLen: node.Queue.Len})
	if node.identityKey == nil {
		// One key for the node's life, restarts included, as on disk: it
		// proves the node in handshakes and signs the entries it authors.
		_, node.identityKey, err = ed25519.GenerateKey(nil)
		require.NoError(t, err)
	}
	node.Service, err = app.NewSyncService(node.DB, store, node.Clock, node.Status, o.Logger,
		app.SyncOptions{BatchSize: o.BatchSize, Identity: node.identityKey, AcceptLegacy: len(o.LegacyPeers) > 0})
	require.NoError(t, err)
	node.Exec = retry.New(retry.Options{RetryAttempts: 1, AttemptTimeout: 10 * time.Second,
		BreakerFailures: 1000, BreakerDelay: 50 * time.Millisecond}, o.Logger)
	if node.mem != nil {
		node.listenInMemory()
	} else {
		node.listenTCP(t, port)
	}
	node.stopped = false
}

// listenTCP starts the node's server and dialer on loopback; the Faults
// decide which of its dials fail.
func (node *Node) listenTCP(t testing.TB, port int) {
	t.Helper()
	o := node.opts
	var err error
	trust := tcp.Trust{PSK: protocol.DerivePSK([]byte(o.AuthToken)),
		Identity: protocol.Identity{NodeID: node.ID, Private: node.identityKey}, LegacyToken: o.AuthToken, LegacyPeers: o.LegacyPeers}
	node.Server, err = tcp.NewServer(tcp.ServerOptions{Trust: trust, BindAddress: "127.0.0.1",
		Port: port, Secure: o.Secure, Compression: o.Compression, HandshakeTimeout: 2 * time.Second}, node.Service, o.Logger)
	require.NoError(t, err)
	require.NoError(t, node.Server.Start(t.Context()))
	node.Addr = node.Server.Addr().String()
	node.Dialer = tcp.NewDialer(tcp.DialerOptions{Trust: trust, Secure: o.Secure,
		Compression: o.Compression, ConnectTimeout: 2 * time.Second, RequestTimeout: o.RequestTimeout,
		MaxResponseBytes: o.MaxResponseBytes, MaxFrameBytes: o.MaxFrameBytes}, node.Exec, o.Logger)
	node.dialer = &faultyDialer{from: node.ID, faults: node.faults, inner: node.Dialer}
}

// listenInMemory puts the node on the cluster's memnet network, at the
// same address after a restart.
func (node *Node) listenInMemory() {
	node.Addr = node.ID + ":1"
	node.Host = node.mem.Listen(node.Addr, node.ID, node.Service)
	node.dialer = node.mem.Dialer(node.ID)
}

// Restart stops the node (engine, listener, database) and brings it back
// on the same file and port, as a process restart would.
func (c *Cluster) Restart(node *Node) {
	c.t.Helper()
	port := 0
	if node.Server != nil {
		port = node.Server.Addr().(*net.TCPAddr).Port
	}
	node.stop()
	node.open(c.t, port)
	c.attachEngine(node, node.peers)
}

func (c *Cluster) attachEngine(node *Node, peers []string) {
	t := c.t
	node.peers = peers
	fanout := node.opts.Fanout
	if fanout <= 0 {
		fanout = len(peers)
	}
	var err error
	node.Engine, err = app.NewSyncEngine(app.SyncEngineDeps{Database: node.DB, Store: node.Store,
		Dialer: node.dialer, Executor: node.Exec,
		Clock: node.Clock, Outbox: node.outbox, Queue: node.Queue, PeerClocks: node.clocks, Status: node.Status, Logger: node.opts.Logger},
		app.EngineOptions{NodeID: node.ID, Interval: node.opts.Interval, Fanout: fanout, BatchSize: node.opts.BatchSize,
			StaticPeers: peers, VectorClockTimeout: 2 * time.Second, GossipLockWait: 500 * time.Millisecond,
			Identity: node.identityKey, AcceptLegacy: len(node.opts.LegacyPeers) > 0})
	require.NoError(t, err)
	if node.opts.Run {
		require.NoError(t, node.Engine.Start(context.Background()))
	}
}

// stop shuts the node down in dependency order; safe to call twice.
func (n *Node) stop() {
	if n.stopped {
		return
	}
	n.stopped = true
	if n.Engine != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = n.Engine.Stop(stopCtx)
		cancel()
	}
	if n.Host != nil {
		n.Host.Close()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Server.Stop(ctx)
		_ = n.Dialer.Close()
	}
	n.DB.Close()
	_ = n.Store.Close()
}

// Partition cuts every link between the groups, both ways (heal: false).
func (c *Cluster) Partition(a, b []*Node, cut bool) {
	for _, x := range a {
		for _, y := range b {
			c.cut(x.ID, y.Addr, cut)
			c.cut(y.ID, x.Addr, cut)
		}
	}
}

// cut blocks (or unblocks) the dials from node id to addr: with the
// Faults on TCP, with the network's own switch in memory.
func (c *Cluster) cut(from, to string, cut bool) {
	if c.mem != nil {
		c.mem.Cut(from, to, cut)
		return
	}
	c.faults.set(from, to, cut)
}

// Put writes a document and fails the test on error.
func (n *Node) Put(t testing.TB, collection, key, body string) domain.Timestamp {
	t.Helper()
	ts, err := n.DB.Put(context.Background(), collection, key, []byte(body), nil)
	require.NoError(t, err)
	return ts
}

// Delete deletes a document and fails the test on error.
func (n *Node) Delete(t testing.TB, collection, key string) domain.Timestamp {
	t.Helper()
	ts, err := n.DB.Delete(context.Background(), collection, key)
	require.NoError(t, err)
	return ts
}

// Body is the live document's JSON, "" when missing or deleted.
func (n *Node) Body(t testing.TB, collection, key string) string {
	t.Helper()
	d, err := n.DB.Get(context.Background(), collection, key)
	if domain.CodeOf(err) == domain.CodeNotFound {
		return ""
	}
	require.NoError(t, err)
	return string(d.Data)
}

// Hash digests every document (tombstones included) and the vector clock:
// two nodes with the same hash hold identical databases.
func (n *Node) Hash(t testing.TB) string {
	t.Helper()
	h, err := porttest.StateHash(context.Background(), n.Store)
	require.NoError(t, err)
	return h
}

// WaitFor polls cond until it holds; the test fails at the deadline.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Converged reports whether every node holds the same state.
func Converged(t testing.TB, nodes []*Node) bool {
	t.Helper()
	want := nodes[0].Hash(t)
	for _, n := range nodes[1:] {
		if n.Hash(t) != want {
			return false
		}
	}
	return true
}

// WaitConverged waits until every node holds the same state.
func WaitConverged(t testing.TB, nodes []*Node, within time.Duration) {
	t.Helper()
	WaitFor(t, within, "nodes to converge", func() bool { return Converged(t, nodes) })
}

// SyncAll runs one round on every node, in order, ignoring failures (cut
// links fail by design); it returns the failures joined per node.
func (c *Cluster) SyncAll(nodes ...*Node) map[string]error {
	if nodes == nil {
		nodes = c.Nodes
	}
	errs := map[string]error{}
	for _, n := range nodes {
		if err := n.Engine.SyncNow(context.Background()); err != nil {
			errs[n.ID] = err
		}
	}
	return errs
}
