package sim

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/entgldb/entgldb-go/adapters/memnet"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// node is one replica: a store that survives crashes, and the in-memory
// objects a crash loses (nil while down).
type node struct {
	id, addr string
	key      ed25519.PrivateKey
	disk     *disk
	skew     int64 // ms added to the virtual time by this node's clock

	up     bool
	clock  *domain.Clock
	db     *app.Database
	svc    *app.SyncService
	engine *app.SyncEngine
	host   *memnet.Host
	peers  *onePeer
	dialer *faultyDialer
	clocks *app.PeerClocks
	maint  *app.Maintenance

	// issued is the newest stamp this node ever issued, across restarts.
	issued domain.Timestamp
	// backup is the node's last backup (nil: none); gen counts restores,
	// each of which gives the node a new id.
	backup *backup
	index  int
	gen    int
	// holesOK: the node compacted its oplog or bootstrapped from a
	// snapshot, so its chains may have holes.
	holesOK bool
}

// identity is a node's key, the same in every run and across restarts (a
// node keeps its identity file).
func identity(id string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("entgldb-sim identity " + id))
	return ed25519.NewKeyFromSeed(seed[:])
}

func (s *Sim) newNode(i int) (*node, error) {
	id := fmt.Sprintf("n%d", i)
	b, err := s.media.fresh(s.ctx, id)
	if err != nil {
		return nil, err
	}
	return &node{id: id, addr: id + ":1", index: i, key: identity(id), disk: &disk{backend: b}}, nil
}

// start builds the node's objects over its store, as a process start does.
func (n *node) start(s *Sim) error {
	n.clock = domain.NewClock(n.id, func() int64 { return s.now + n.skew }, s.opts.MaxDriftMs)
	wall := func() time.Time { return time.UnixMilli(s.now + n.skew) }
	n.disk.SetClock(wall)
	db, err := app.NewDatabase(n.disk, nil, n.clock, nil, app.DatabaseOptions{Now: wall, Resolver: s.opts.resolver()})
	if err != nil {
		return err
	}
	// What peers confirmed holding survives a restart (the engine's Start
	// would load it; the simulator never starts the engine's loops).
	n.clocks = app.NewPeerClocks(n.disk)
	n.clocks.SetClock(wall)
	if err := n.clocks.Load(s.ctx); err != nil {
		return err
	}
	n.maint = app.NewMaintenance(n.disk, n.clocks, app.MaintenanceOptions{
		OplogRetention:     time.Duration(s.opts.OplogRetentionMs) * time.Millisecond,
		TombstoneRetention: time.Duration(s.opts.TombstoneRetentionMs) * time.Millisecond,
		Peers:              func() []domain.Peer { return s.peerBook(n) },
		Resolver:           s.opts.resolver(),
		Now:                wall,
	}, nil)
	svc, err := app.NewSyncService(db, n.disk, n.clock, nil, nil,
		app.SyncOptions{BatchSize: s.opts.BatchSize, Identity: n.key})
	if err != nil {
		return err
	}
	n.peers = &onePeer{}
	n.dialer = &faultyDialer{inner: s.net.Dialer(n.id), sim: s}
	engine, err := app.NewSyncEngine(app.SyncEngineDeps{Database: db, Store: n.disk, Dialer: n.dialer,
		Executor: passExec{}, Clock: n.clock, Discovery: n.peers, PeerClocks: n.clocks},
		app.EngineOptions{NodeID: n.id, BatchSize: s.opts.BatchSize, Identity: n.key})
	if err != nil {
		return err
	}
	n.db, n.svc, n.engine = db, svc, engine
	n.host = s.net.Listen(n.addr, n.id, svc)
	s.net.SetDown(n.addr, false)
	n.up = true
	return nil
}

// crash drops everything but the store, which keeps what the store's kind
// keeps across a kill -9 (media.crash).
func (n *node) crash(s *Sim) error {
	s.net.SetDown(n.addr, true)
	n.host.Close()
	n.db.Close()
	n.up = false
	n.clock, n.db, n.svc, n.engine, n.host, n.peers, n.dialer = nil, nil, nil, nil, nil, nil, nil
	n.clocks, n.maint = nil, nil
	b, replay, err := s.media.crash(s.ctx, n.id, n.disk.backend)
	if err != nil {
		return err
	}
	if replay > 0 {
		s.record("  killed with %d oplog entries past the materialized mark", replay)
	}
	n.disk.backend = b
	return nil
}

// pinKeys records every honest node's identity key in n's store, as
// handshakes between the nodes would have: an entry signed by another key
// in their names is then refused, never pinned on first use.
func (n *node) pinKeys(ctx context.Context, nodes []*node) error {
	for _, m := range nodes {
		if m == n {
			continue // its own: the node pins that itself
		}
		if err := n.disk.CheckPeerKey(ctx, m.id, m.key.Public().(ed25519.PublicKey)); err != nil {
			return err
		}
	}
	return nil
}

// peerBook is what discovery lists to n's maintenance: every other node.
func (s *Sim) peerBook(n *node) []domain.Peer {
	out := make([]domain.Peer, 0, len(s.nodes)-1)
	for _, m := range s.nodes {
		if m != n {
			out = append(out, domain.Peer{NodeID: m.id, Address: m.addr, Source: domain.PeerDiscovered})
		}
	}
	return out
}

// onePeer is a discovery listing the one peer the next round is with.
type onePeer struct{ peer domain.Peer }

func (o *onePeer) Peers() []domain.Peer { return []domain.Peer{o.peer} }

// passExec runs operations once with no policies: retries would only
// repeat what the schedule already decides.
type passExec struct{}

func (passExec) Run(ctx context.Context, _ string, fn func(ctx context.Context) error) error {
	return fn(ctx)
}
func (passExec) BreakerOpen(string) bool { return false }

// disk is a node's store with a switch that makes it refuse writes, as a
// full or failing disk does: the write fails whole, nothing of it lands.
type disk struct {
	backend
	refuse bool
}

var errDiskFull = &domain.Error{Code: domain.CodePersistence, Op: "sim.disk", Msg: "disk refuses writes"}

func (d *disk) Commit(ctx context.Context, r domain.Resolver, writes ...ports.Write) ([]domain.Entry, error) {
	if d.refuse {
		return nil, errDiskFull
	}
	return d.backend.Commit(ctx, r, writes...)
}

func (d *disk) ApplyRemote(ctx context.Context, r domain.Resolver, entries []domain.Entry) (ports.ApplyResult, error) {
	if d.refuse {
		return ports.ApplyResult{}, errDiskFull
	}
	return d.backend.ApplyRemote(ctx, r, entries)
}

func (d *disk) ApplySnapshot(ctx context.Context, r domain.Resolver, sn domain.Snapshot) (ports.ApplyResult, error) {
	if d.refuse {
		return ports.ApplyResult{}, errDiskFull
	}
	return d.backend.ApplySnapshot(ctx, r, sn)
}

func (d *disk) SetMeta(ctx context.Context, key, value string) error {
	if d.refuse {
		return errDiskFull
	}
	return d.backend.SetMeta(ctx, key, value)
}
