// Package udp finds peers on the LAN with the discovery beacon
// (docs/DISCOVERY.md): every node broadcasts a small datagram, authenticated
// with a key derived from the cluster secret, to the shared UDP port and
// remembers, up to a bound, the nodes of its cluster it hears from.
package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

const (
	// DefaultInterval is how often a node announces itself.
	DefaultInterval = 5 * time.Second
	// DefaultExpiry forgets a peer not heard from for three intervals.
	DefaultExpiry = 15 * time.Second
	// DefaultFreshness is how far a closed cluster's beacon stamp may be from
	// the receiver's clock, either way: wide enough for unsynchronised
	// clocks, short enough that a captured beacon soon stops working.
	DefaultFreshness = 30 * time.Second
	// DefaultMaxPeers bounds the discovered peer table.
	DefaultMaxPeers = 256
	// DefaultMaxPeersPerSource bounds the node ids one source address may
	// hold in the table (several nodes may share a host).
	DefaultMaxPeersPerSource = 32
	// maxDatagram is one byte past the longest beacon, so an oversized
	// datagram is seen as such rather than arriving truncated.
	maxDatagram = protocol.MaxBeaconSize + 1
	// maxReannounceGap bounds how often a newcomer makes this node
	// announce out of turn (at most once per interval, and per this gap).
	maxReannounceGap = time.Second
	// dropReportEvery spaces the summary log lines of dropped beacons.
	dropReportEvery = time.Minute
)

// Options configure a Discovery.
type Options struct {
	NodeID string
	// AuthToken is the cluster secret: beacons carry an HMAC under a key
	// derived from it, never the secret or a hash of it. Empty: an open
	// cluster whose beacons carry no tag.
	AuthToken string
	// TCPPort is announced to peers; 0 until known (see SetTCPPort): no
	// beacon is sent while it is 0.
	TCPPort int
	UDPPort int
	// BindAddress is the local address of the UDP socket ("" = 0.0.0.0).
	BindAddress string
	// BroadcastAddress is where beacons go; empty = the directed broadcast
	// of every up, non-loopback IPv4 interface, then 255.255.255.255.
	BroadcastAddress string
	Interval         time.Duration // 0 = DefaultInterval
	Expiry           time.Duration // 0 = DefaultExpiry
	// StaticPeers are host:port sync addresses that are always reported
	// and never expire.
	StaticPeers []string
	// Interests are the collections this node asks for (empty: all).
	Interests []string
	// Disabled keeps the socket closed: Peers reports static peers only.
	Disabled bool
	// Freshness is how far from this node's clock a closed cluster's beacon
	// stamp may be (0 = DefaultFreshness).
	Freshness time.Duration
	// MaxPeers bounds the discovered peers remembered (0 = DefaultMaxPeers).
	MaxPeers int
	// MaxPeersPerSource bounds the node ids remembered from one source
	// address (0 = DefaultMaxPeersPerSource).
	MaxPeersPerSource int
	// FamilyPort, when set, is the family's discovery port (the C# node's
	// is 25000): the node also announces itself there in the family's JSON
	// beacon and reports the family nodes it hears (family.go).
	FamilyPort int
}

// Stats counts datagrams; the drop counters say why beacons were ignored.
type Stats struct {
	Sent, SendErrors, Received uint64
	// Accepted beacons added or refreshed a peer.
	Accepted uint64
	// DroppedMalformed were not a well-formed beacon of a known version.
	DroppedMalformed uint64
	// DroppedBadMAC did not authenticate: a wrong or missing tag (another
	// cluster, or a forgery), or a tag on an open cluster.
	DroppedBadMAC uint64
	// DroppedStale were stamped outside the freshness window, or not after
	// the last accepted beacon of their node (a replay).
	DroppedStale uint64
	// DroppedOverCap came from a new node id while the peer table, or its
	// source address's share of it, was full.
	DroppedOverCap uint64
	IgnoredSelf    uint64
	// FamilySent, FamilySeen and FamilyDropped count the family port's
	// beacons: sent, heard from our cluster, and dropped.
	FamilySent, FamilySeen, FamilyDropped uint64
}

// drops sums the drop counters, to tell whether any moved.
func (s Stats) drops() uint64 {
	return s.DroppedMalformed + s.DroppedBadMAC + s.DroppedStale + s.DroppedOverCap
}

// Discovery broadcasts this node's beacon and tracks the peers it hears.
// It implements ports.Discovery.
type Discovery struct {
	opts    Options
	key     protocol.BeaconKey // nil: an open cluster
	limits  tableLimits
	logger  *zap.Logger
	static  []domain.Peer
	tcpPort atomic.Int64

	mu        sync.Mutex
	peers     peerTable
	interests []string
	conn      *net.UDPConn
	stop      context.CancelFunc
	wg        sync.WaitGroup

	announce chan struct{} // a new peer appeared: beacon soon
	changed  chan struct{} // closed, and replaced, when a peer appears or expires (under mu)

	// Owned by the announce loop (one at a time, across Stop and Start).
	lastStamp   int64 // Unix ms on the last beacon sent
	reported    Stats // counters at the last drop report
	reportedAt  time.Time
	reannounced time.Time // the last out-of-turn announce

	sent, sendErrors, received             atomic.Uint64
	accepted, droppedMalformed, droppedMAC atomic.Uint64
	droppedStale, droppedOverCap           atomic.Uint64
	ignoredSelf                            atomic.Uint64

	famConn                               *net.UDPConn      // guarded by mu; nil: no family port
	family                                map[string]string // guarded by mu; node id → address
	familySent, familySeen, familyDropped atomic.Uint64
}

var _ ports.Discovery = (*Discovery)(nil)

// NewDiscovery validates opts (every problem in one CONFIG_ERROR) and
// returns a stopped Discovery.
func NewDiscovery(opts Options, logger *zap.Logger) (*Discovery, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Expiry <= 0 {
		opts.Expiry = DefaultExpiry
	}
	if opts.Freshness <= 0 {
		opts.Freshness = DefaultFreshness
	}
	if opts.MaxPeers <= 0 {
		opts.MaxPeers = DefaultMaxPeers
	}
	if opts.MaxPeersPerSource <= 0 {
		opts.MaxPeersPerSource = DefaultMaxPeersPerSource
	}
	var problems []error
	if opts.NodeID == "" {
		problems = append(problems, errors.New("node id is empty"))
	} else if err := (protocol.Beacon{NodeID: opts.NodeID, TCPPort: 1, Interests: opts.Interests}).Check(); err != nil {
		problems = append(problems, fmt.Errorf("beacon: %w", err))
	}
	if opts.TCPPort < 0 || opts.TCPPort > 65535 {
		problems = append(problems, errors.New("tcp port "+strconv.Itoa(opts.TCPPort)+" out of range"))
	}
	if !opts.Disabled && (opts.UDPPort < 1 || opts.UDPPort > 65535) {
		problems = append(problems, errors.New("udp port "+strconv.Itoa(opts.UDPPort)+" out of range 1..65535"))
	}
	if opts.FamilyPort < 0 || opts.FamilyPort > 65535 {
		problems = append(problems, errors.New("family udp port "+strconv.Itoa(opts.FamilyPort)+" out of range"))
	}
	if opts.BindAddress != "" {
		if _, err := netip.ParseAddr(opts.BindAddress); err != nil {
			problems = append(problems, errors.New("bind address: "+err.Error()))
		}
	}
	if opts.BroadcastAddress != "" {
		if _, err := netip.ParseAddr(opts.BroadcastAddress); err != nil {
			problems = append(problems, errors.New("broadcast address: "+err.Error()))
		}
	}
	var static []domain.Peer
	for _, sp := range opts.StaticPeers {
		host, port, err := net.SplitHostPort(sp)
		if err == nil && host == "" {
			err = errors.New("missing host")
		}
		if err == nil {
			if p, perr := strconv.Atoi(port); perr != nil || p < 1 || p > 65535 {
				err = errors.New("bad port")
			}
		}
		if err != nil {
			problems = append(problems, errors.New("static peer "+strconv.Quote(sp)+": "+err.Error()))
			continue
		}
		static = append(static, domain.Peer{Address: sp, Source: domain.PeerStatic})
	}
	key, err := protocol.DeriveBeaconKey([]byte(opts.AuthToken))
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, domain.Errorf(domain.CodeConfig, "udp.NewDiscovery", "%w", errors.Join(problems...))
	}
	d := &Discovery{
		opts: opts,
		key:  key,
		limits: tableLimits{
			maxPeers: opts.MaxPeers, maxPerSource: opts.MaxPeersPerSource, expiry: opts.Expiry,
			replay: key != nil, freshness: opts.Freshness,
		},
		logger:    logger,
		static:    static,
		peers:     make(peerTable),
		interests: slices.Clone(opts.Interests),
		announce:  make(chan struct{}, 1),
		changed:   make(chan struct{}),
		family:    map[string]string{},
	}
	d.tcpPort.Store(int64(opts.TCPPort))
	return d, nil
}

// SetTCPPort sets the announced sync port, for a listener bound to port 0.
func (d *Discovery) SetTCPPort(port int) { d.tcpPort.Store(int64(port)) }

// SetInterests changes the collections announced from the next beacon on.
// A list no beacon can carry is announced as none (all collections).
func (d *Discovery) SetInterests(collections []string) {
	if err := (protocol.Beacon{NodeID: d.opts.NodeID, TCPPort: 1, Interests: collections}).Check(); err != nil {
		d.logger.Warn("announcing interest in every collection", zap.Error(err))
		collections = nil
	}
	d.mu.Lock()
	d.interests = slices.Clone(collections)
	d.mu.Unlock()
}

// reusePort lets several nodes on one host bind the same UDP port (tests
// run many nodes against 127.255.255.255); broadcasts reach every socket.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// Start binds the UDP socket and starts announcing and listening. ctx
// bounds only the bind: the goroutines run until Stop.
func (d *Discovery) Start(ctx context.Context) error {
	const op = "udp.Discovery.Start"
	if d.opts.Disabled {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		return domain.Errorf(domain.CodeInternal, op, "discovery already started")
	}
	bind := d.opts.BindAddress
	if bind == "" {
		bind = "0.0.0.0"
	}
	lc := net.ListenConfig{Control: reusePort}
	pc, err := lc.ListenPacket(ctx, "udp4", net.JoinHostPort(bind, strconv.Itoa(d.opts.UDPPort)))
	if err != nil {
		return domain.Errorf(domain.CodeNetwork, op, "binding discovery port %d: %w", d.opts.UDPPort, err)
	}
	d.conn = pc.(*net.UDPConn)
	runCtx, cancel := context.WithCancel(context.Background())
	if d.opts.FamilyPort > 0 {
		if err := d.startFamily(ctx, runCtx, bind); err != nil {
			cancel()
			_ = d.conn.Close()
			d.conn = nil
			return domain.Errorf(domain.CodeNetwork, op, "binding the family discovery port %d: %w", d.opts.FamilyPort, err)
		}
	}
	d.stop = cancel
	d.wg.Add(2)
	go d.receiveLoop(d.conn)
	go d.announceLoop(runCtx, d.conn)
	d.logger.Info("discovery started", zap.String("bind", d.conn.LocalAddr().String()),
		zap.Bool("authenticated", d.key != nil))
	return nil
}

// Stop closes the socket and waits for the goroutines until ctx ends (then
// TIMEOUT_ERROR: they exit on their own, the socket being closed). Known
// peers are forgotten. Stopping a stopped Discovery is a no-op.
func (d *Discovery) Stop(ctx context.Context) error {
	const op = "udp.Discovery.Stop"
	d.mu.Lock()
	conn, famConn, cancel := d.conn, d.famConn, d.stop
	d.conn, d.famConn, d.stop = nil, nil, nil
	d.mu.Unlock()
	if conn == nil {
		return nil
	}
	cancel()
	err := conn.Close() // unblocks the receive loop
	if famConn != nil {
		_ = famConn.Close()
	}
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return domain.Errorf(domain.CodeTimeout, op, "discovery goroutines still running at the deadline: %w", ctx.Err())
	}
	d.mu.Lock()
	clear(d.peers)
	clear(d.family)
	d.mu.Unlock()
	if err != nil {
		return domain.Errorf(domain.CodeNetwork, op, "closing discovery socket: %w", err)
	}
	return nil
}

// Name names discovery among a node's components.
func (d *Discovery) Name() string { return "discovery" }

// Running reports whether the socket is open.
func (d *Discovery) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conn != nil
}

// LocalAddr is the bound UDP address (nil when stopped).
func (d *Discovery) LocalAddr() net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return nil
	}
	return d.conn.LocalAddr()
}

// Stats returns the datagram counters.
func (d *Discovery) Stats() Stats {
	return Stats{
		Sent: d.sent.Load(), SendErrors: d.sendErrors.Load(), Received: d.received.Load(),
		Accepted: d.accepted.Load(), DroppedMalformed: d.droppedMalformed.Load(), DroppedBadMAC: d.droppedMAC.Load(),
		DroppedStale: d.droppedStale.Load(), DroppedOverCap: d.droppedOverCap.Load(),
		IgnoredSelf: d.ignoredSelf.Load(),
		FamilySent:  d.familySent.Load(), FamilySeen: d.familySeen.Load(), FamilyDropped: d.familyDropped.Load(),
	}
}

// Peers returns the live discovered peers, sorted by node id, then the
// static peers whose address no discovered peer already has.
func (d *Discovery) Peers() []domain.Peer {
	now := time.Now()
	d.mu.Lock()
	out := make([]domain.Peer, 0, len(d.peers)+len(d.static))
	addrs := make(map[string]bool, len(d.peers))
	for id, p := range d.peers {
		if now.Sub(p.lastSeen) > d.opts.Expiry {
			continue
		}
		addrs[p.addr] = true
		out = append(out, domain.Peer{
			NodeID: id, Address: p.addr, Source: domain.PeerDiscovered,
			Interests: slices.Clone(p.interests), LastSeen: p.lastSeen.UnixMilli(),
		})
	}
	d.mu.Unlock()
	slices.SortFunc(out, func(a, b domain.Peer) int {
		if a.NodeID < b.NodeID {
			return -1
		}
		if a.NodeID > b.NodeID {
			return 1
		}
		return 0
	})
	for _, s := range d.static {
		if !addrs[s.Address] {
			out = append(out, s)
		}
	}
	return out
}

// PeersChanged returns a channel closed when a peer next appears (a new
// node, or one heard again after it expired) or expires, so the sync engine
// can sync with a newcomer at once rather than at its next round, and tell
// a peer that comes back from one that never left. Every caller is told.
func (d *Discovery) PeersChanged() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

// changedLocked tells PeersChanged's callers; d.mu is held.
func (d *Discovery) changedLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *Discovery) receiveLoop(conn *net.UDPConn) {
	defer d.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient (e.g. ICMP-induced) errors must not end discovery.
			d.logger.Debug("discovery read failed", zap.Error(err))
			continue
		}
		d.received.Add(1)
		d.handle(buf[:n], from.Addr().Unmap(), time.Now())
	}
}

// handle processes one datagram from src. It never sends: a newcomer only
// asks the announce loop, which rate-limits, to answer.
func (d *Discovery) handle(datagram []byte, src netip.Addr, now time.Time) {
	b, err := protocol.ParseBeacon(datagram, d.key)
	if err != nil {
		if domain.CodeOf(err) == domain.CodeUnauthorized {
			d.droppedMAC.Add(1)
		} else {
			d.droppedMalformed.Add(1)
		}
		d.logger.Debug("beacon dropped", zap.Stringer("from", src), zap.Error(err))
		return
	}
	if b.NodeID == d.opts.NodeID {
		d.ignoredSelf.Add(1)
		return
	}
	if d.limits.replay {
		if skew := now.UnixMilli() - b.SentAt; skew > d.opts.Freshness.Milliseconds() || -skew > d.opts.Freshness.Milliseconds() {
			d.droppedStale.Add(1)
			d.logger.Debug("beacon dropped: stamp outside the freshness window", zap.Stringer("from", src),
				zap.String("peer", b.NodeID), zap.Duration("skew", time.Duration(skew)*time.Millisecond))
			return
		}
	}
	addr := net.JoinHostPort(src.String(), strconv.Itoa(b.TCPPort))
	d.mu.Lock()
	v := d.peers.admit(b, src, addr, now, d.limits)
	if v == appeared {
		d.changedLocked()
	}
	d.mu.Unlock()
	switch v {
	case stale:
		d.droppedStale.Add(1)
		d.logger.Debug("beacon dropped: not newer than the last one", zap.Stringer("from", src), zap.String("peer", b.NodeID))
		return
	case overCap:
		d.droppedOverCap.Add(1)
		d.logger.Debug("beacon dropped: peer table full", zap.Stringer("from", src), zap.String("peer", b.NodeID))
		return
	case appeared:
		d.logger.Info("peer discovered", zap.String("peer", b.NodeID), zap.String("address", addr))
		select {
		case d.announce <- struct{}{}:
		default:
		}
	case moved:
		d.logger.Info("peer address changed", zap.String("peer", b.NodeID), zap.String("address", addr))
	}
	d.accepted.Add(1)
}

// announceLoop beacons every interval, and out of turn when a peer appears
// so the newcomer need not wait a whole interval, but at most once per
// reannounceGap: a flood of new peers cannot make this node flood.
func (d *Discovery) announceLoop(ctx context.Context, conn *net.UDPConn) {
	defer d.wg.Done()
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	gap := min(d.opts.Interval, maxReannounceGap)
	var deferred *time.Timer // a newcomer waiting for the gap to pass
	var deferredC <-chan time.Time
	defer func() {
		if deferred != nil {
			deferred.Stop()
		}
	}()
	d.broadcast(conn, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			d.expire(now)
			d.reportDrops(now)
			d.broadcast(conn, now)
		case <-d.announce:
			if deferredC != nil {
				continue // already due
			}
			if wait := gap - time.Since(d.reannounced); wait > 0 {
				deferred = time.NewTimer(wait)
				deferredC = deferred.C
				continue
			}
			d.reannounce(conn)
		case <-deferredC:
			deferredC = nil
			d.reannounce(conn)
		}
	}
}

// reannounce is an out-of-turn beacon.
func (d *Discovery) reannounce(conn *net.UDPConn) {
	d.reannounced = time.Now()
	d.broadcast(conn, d.reannounced)
}

// expire reports peers not heard from within Expiry as gone.
func (d *Discovery) expire(now time.Time) {
	d.mu.Lock()
	gone := d.peers.expire(now, d.limits)
	if len(gone) > 0 {
		d.changedLocked()
	}
	d.mu.Unlock()
	for _, g := range gone {
		d.logger.Info("peer expired", zap.String("peer", g.id), zap.String("address", g.addr))
	}
}

// reportDrops logs one line with the beacons dropped since the last line,
// at most every dropReportEvery: a flood costs no log line per datagram.
func (d *Discovery) reportDrops(now time.Time) {
	if now.Sub(d.reportedAt) < dropReportEvery {
		return
	}
	st := d.Stats()
	if st.drops() == d.reported.drops() {
		return
	}
	d.logger.Info("beacons dropped",
		zap.Uint64("malformed", st.DroppedMalformed-d.reported.DroppedMalformed),
		zap.Uint64("bad_mac", st.DroppedBadMAC-d.reported.DroppedBadMAC),
		zap.Uint64("stale", st.DroppedStale-d.reported.DroppedStale),
		zap.Uint64("over_cap", st.DroppedOverCap-d.reported.DroppedOverCap),
		zap.Duration("since", now.Sub(d.reportedAt).Round(time.Second)))
	d.reported, d.reportedAt = st, now
}

// broadcast sends one beacon to every target address, each with its own
// stamp: a receiver that hears two of them takes both as new.
func (d *Discovery) broadcast(conn *net.UDPConn, now time.Time) {
	port := int(d.tcpPort.Load())
	if port == 0 {
		return // not listening yet: a beacon with port 0 would be dropped
	}
	d.mu.Lock()
	interests := d.interests
	d.mu.Unlock()
	b := protocol.Beacon{NodeID: d.opts.NodeID, TCPPort: port, Interests: interests}
	for _, ip := range d.targets() {
		to := netip.AddrPortFrom(ip, uint16(d.opts.UDPPort))
		d.lastStamp = max(now.UnixMilli(), d.lastStamp+1)
		b.SentAt = d.lastStamp
		msg, err := b.Marshal(d.key)
		if err == nil {
			_, err = conn.WriteToUDPAddrPort(msg, to)
		}
		if err != nil {
			d.sendErrors.Add(1)
			d.logger.Debug("beacon send failed", zap.Stringer("to", to), zap.Error(err))
			continue
		}
		d.sent.Add(1)
	}
}

// targets returns the configured broadcast address, or the directed
// broadcast of every up, non-loopback IPv4 interface followed by the
// limited broadcast (interfaces come and go, so they are read each time).
func (d *Discovery) targets() []netip.Addr {
	if d.opts.BroadcastAddress != "" {
		return []netip.Addr{netip.MustParseAddr(d.opts.BroadcastAddress)}
	}
	var out []netip.Addr
	ifaces, err := net.Interfaces()
	if err != nil {
		d.logger.Debug("listing interfaces", zap.Error(err))
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagBroadcast == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if bc, ok := directedBroadcast(a); ok && !slices.Contains(out, bc) {
				out = append(out, bc)
			}
		}
	}
	return append(out, netip.AddrFrom4([4]byte{255, 255, 255, 255}))
}

// directedBroadcast is the broadcast address of an IPv4 interface network.
func directedBroadcast(a net.Addr) (netip.Addr, bool) {
	ipn, ok := a.(*net.IPNet)
	if !ok {
		return netip.Addr{}, false
	}
	ip4, mask := ipn.IP.To4(), ipn.Mask
	if len(mask) == net.IPv6len {
		mask = mask[12:] // an IPv4 mask in 16-byte form
	}
	if ip4 == nil || len(mask) != net.IPv4len {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i := range b {
		b[i] = ip4[i] | ^mask[i]
	}
	return netip.AddrFrom4(b), true
}
