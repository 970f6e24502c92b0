// Package memnet is an in-process peer network: a ports.PeerDialer whose
// sessions call the serving node's ports.SyncHandler directly, with no
// sockets and no encoding. It carries what the TCP adapter carries (the
// same answers, the same error codes, a session broken by a failed request)
// and adds fault switches: a node down, a link cut one way, a partition,
// and a peer forced to answer as a v4-only or pull-only node. Tests of the
// sync logic run many nodes on it, fast and deterministic; the
// ports/porttest session suite keeps it honest against the TCP adapter.
package memnet

import (
	"context"
	"sync"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Network joins hosts by address. The zero value is not usable; call New.
type Network struct {
	mu    sync.Mutex
	hosts map[string]*Host // by address
	down  map[string]bool  // address → unreachable
	cut   map[link]bool
	// legacy holds the node ids of the C#/TypeScript family: their
	// sessions are legacy ones on both sides (ports.PeerInfo.Legacy,
	// Session.Legacy), as the TCP adapter's with Trust.LegacyPeers.
	legacy map[string]bool
}

// link is one direction between two nodes: who dials, and where.
type link struct{ from, to string } // {node id, address}

// New returns an empty network.
func New() *Network {
	return &Network{hosts: map[string]*Host{}, down: map[string]bool{}, cut: map[link]bool{}, legacy: map[string]bool{}}
}

// Listen makes h answer, as node id, the sessions dialed to addr. A host
// already at addr is replaced (a restarted node); its open sessions fail.
func (n *Network) Listen(addr, id string, h ports.SyncHandler) *Host {
	host := &Host{id: id, addr: addr, handler: h, net: n}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hosts[addr] = host
	return host
}

// Dialer returns the dialer of node id: its sessions present id to the
// hosts they reach, and the links cut from id apply to them.
func (n *Network) Dialer(id string) *Dialer { return &Dialer{net: n, from: id} }

// SetDown makes addr unreachable (true) or reachable again (false), as a
// node whose process stopped: dials fail, and so do open sessions.
func (n *Network) SetDown(addr string, down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down[addr] = down
}

// SetLegacy makes node id a node of the C#/TypeScript family (true) or a
// Go node again (false), for the sessions dialed from then on: the hosts
// it dials see a legacy peer, and its host is a legacy peer to those who
// dial it.
func (n *Network) SetLegacy(id string, legacy bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.legacy[id] = legacy
}

// Cut cuts (true) or heals (false) the link from node fromID to toAddr, in
// that direction only.
func (n *Network) Cut(fromID, toAddr string, cut bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if cut {
		n.cut[link{fromID, toAddr}] = true
	} else {
		delete(n.cut, link{fromID, toAddr})
	}
}

// Partition cuts (true) or heals (false) every link between the groups,
// both ways.
func (n *Network) Partition(a, b []*Host, cut bool) {
	for _, x := range a {
		for _, y := range b {
			n.Cut(x.id, y.addr, cut)
			n.Cut(y.id, x.addr, cut)
		}
	}
}

// route returns the host a node reaches at addr, or nil when none listens
// there, it is down, or the link is cut.
func (n *Network) route(from, addr string) *Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down[addr] || n.cut[link{from, addr}] {
		return nil
	}
	return n.hosts[addr]
}

// remove takes h off the network if it still listens at its address.
func (n *Network) remove(h *Host) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hosts[h.addr] == h {
		delete(n.hosts, h.addr)
	}
}

// Dialer opens sessions from one node (ports.PeerDialer).
type Dialer struct {
	net  *Network
	from string
}

var _ ports.PeerDialer = (*Dialer)(nil)

// Dial opens a session to the host at addr; a refused dial is a
// NETWORK_ERROR, as a refused TCP connection is.
func (d *Dialer) Dial(ctx context.Context, addr string) (ports.PeerSession, error) {
	const op = "memnet.Dial"
	if err := ctx.Err(); err != nil {
		return nil, callerErr(ctx, op)
	}
	host := d.net.route(d.from, addr)
	if host == nil {
		return nil, domain.Errorf(domain.CodeNetwork, op, "connection refused: %s", addr)
	}
	d.net.mu.Lock()
	legacy := d.net.legacy[d.from] || d.net.legacy[host.id]
	d.net.mu.Unlock()
	return &Session{host: host, from: d.from, legacy: legacy, peer: ports.PeerInfo{NodeID: d.from, Legacy: legacy}}, nil
}
