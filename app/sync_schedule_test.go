package app

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// A long interval: whatever syncs in these tests was not the ticker.
const scheduleInterval = time.Minute

// announcingDiscovery is a Discovery whose peers the test sets; adding or
// removing one announces it as the UDP adapter does.
type announcingDiscovery struct {
	mu      sync.Mutex
	peers   []domain.Peer
	changed chan struct{}
	looks   int // calls of Peers
}

func newAnnouncingDiscovery() *announcingDiscovery {
	return &announcingDiscovery{changed: make(chan struct{})}
}

func (d *announcingDiscovery) Peers() []domain.Peer {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.looks++
	return append([]domain.Peer(nil), d.peers...)
}

func (d *announcingDiscovery) looked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.looks
}

func (d *announcingDiscovery) PeersChanged() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

func (d *announcingDiscovery) announceLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *announcingDiscovery) add(addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range addrs {
		d.peers = append(d.peers, domain.Peer{NodeID: a, Address: a, Source: domain.PeerDiscovered})
	}
	d.announceLocked()
}

func (d *announcingDiscovery) remove(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, p := range d.peers {
		if p.Address == addr {
			d.peers = append(d.peers[:i], d.peers[i+1:]...)
			d.announceLocked()
			return
		}
	}
}

// countingDialer records when each address is dialled.
type countingDialer struct {
	ports.PeerDialer
	mu    sync.Mutex
	dials map[string][]time.Time
}

func (d *countingDialer) Dial(ctx context.Context, addr string) (ports.PeerSession, error) {
	d.mu.Lock()
	d.dials[addr] = append(d.dials[addr], time.Now())
	d.mu.Unlock()
	return d.PeerDialer.Dial(ctx, addr)
}

func (d *countingDialer) count(addr string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.dials[addr])
}

// between is the time from addr's first dial to its second.
func (d *countingDialer) between(addr string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials[addr][1].Sub(d.dials[addr][0])
}

// announcedNode rebuilds node's engine with disc as its discovery and a
// dialer that counts; gossip is left out, so only rounds move entries.
func (n *syncNet) announcedNode(t *testing.T, node *syncNode, disc ports.Discovery, static ...string) *countingDialer {
	t.Helper()
	dialer := &countingDialer{PeerDialer: n.Dialer(node.id), dials: map[string][]time.Time{}}
	var err error
	node.engine, err = NewSyncEngine(SyncEngineDeps{Database: node.db, Store: node.store, Dialer: dialer,
		Executor: passExec{}, Clock: node.clock, Discovery: disc, Status: node.status, Logger: zap.NewNop()},
		EngineOptions{NodeID: node.id, Interval: scheduleInterval, StaticPeers: static,
			VectorClockTimeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, node.engine.Stop(context.Background())) })
	return dialer
}

// A node that starts with a static peer converges with it at once, not an
// interval later.
func TestSyncRoundAtStart(t *testing.T) {
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{})
	b := net.addNode(t, "b", syncNodeOpts{interval: scheduleInterval, peers: []string{a.addr}})
	for i := range 20 {
		a.put(t, "c", "k"+strconv.Itoa(i), `{"v":1}`)
	}
	require.NoError(t, b.engine.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, b.engine.Stop(context.Background())) })
	waitFor(t, 5*time.Second, "b to hold a's documents", func() bool {
		return b.stateHash(t) == a.stateHash(t)
	})
}

// A peer that appears after the start is synced with at once, alone: the
// peers already known wait for the next round.
func TestSyncRoundWhenPeerAppears(t *testing.T) {
	net := newSyncNet()
	a := net.addNode(t, "a", syncNodeOpts{})
	b := net.addNode(t, "b", syncNodeOpts{})
	c := net.addNode(t, "c", syncNodeOpts{})
	disc := newAnnouncingDiscovery()
	dials := net.announcedNode(t, b, disc, c.addr)
	a.put(t, "c", "k", `{"v":1}`)

	require.NoError(t, b.engine.Start(t.Context()))
	waitFor(t, 5*time.Second, "the round at start, with c", func() bool { return b.engine.Stats().Rounds == 1 })
	disc.add(a.addr)
	waitFor(t, 5*time.Second, "b to hold a's document", func() bool { return b.body(t, "c", "k") == `{"v":1}` })
	assert.Equal(t, 1, dials.count(a.addr))
	assert.Equal(t, 1, dials.count(c.addr), "the known peer is not synced again before the interval")
}

// Appearances in a burst are coalesced, each new peer dialled once; a
// peer that keeps coming and going is synced again only once its trigger
// gap has passed, however often it reappeared meanwhile.
func TestSyncRoundTriggersCoalesce(t *testing.T) {
	net := newSyncNet()
	b := net.addNode(t, "b", syncNodeOpts{})
	c := net.addNode(t, "c", syncNodeOpts{})
	disc := newAnnouncingDiscovery()
	dials := net.announcedNode(t, b, disc, c.addr)
	require.NoError(t, b.engine.Start(t.Context()))
	waitFor(t, 5*time.Second, "the round at start, with c", func() bool { return b.engine.Stats().Rounds == 1 })

	const burst = 10
	for i := range burst {
		// Nobody listens there: those rounds fail, and count all the same.
		disc.add("new" + strconv.Itoa(i) + ":1")
	}
	waitFor(t, 5*time.Second, "the burst's round", func() bool {
		for i := range burst {
			if dials.count("new"+strconv.Itoa(i)+":1") == 0 {
				return false
			}
		}
		return true
	})

	disc.add("flapper:1")
	waitFor(t, 5*time.Second, "the flapper's round", func() bool { return dials.count("flapper:1") == 1 })
	const flaps = 200
	for range flaps {
		disc.remove("flapper:1")
		disc.add("flapper:1")
	}
	// Once more, with the engine seeing it gone, so it is new again
	// whichever of the flaps the engine saw.
	looks := disc.looked()
	disc.remove("flapper:1")
	waitFor(t, 5*time.Second, "the engine to list the peers", func() bool { return disc.looked() > looks })
	disc.add("flapper:1")
	waitFor(t, 5*time.Second, "the flapper's second round", func() bool { return dials.count("flapper:1") == 2 })
	// The gap runs from the round's decision, a moment before its dial.
	assert.GreaterOrEqual(t, dials.between("flapper:1"), triggerGap*9/10, "not synced again before its gap passed")

	for i := range burst {
		assert.Equal(t, 1, dials.count("new"+strconv.Itoa(i)+":1"), "new%d", i)
	}
	assert.Equal(t, 1, dials.count(c.addr), "only new peers are synced when one appears")
}
