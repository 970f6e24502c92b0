package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
)

// The LAN attacker's loopback addresses: where it sends from, so a node
// that took one of its beacons would name it as a peer's address.
const (
	attackerIP   = "127.0.0.66" // beacons, the lure listener, the sniffer
	brotliSrcIP  = "127.0.0.68" // compressed pre-auth frames
	silentSrcIP0 = 70           // silent connections come from 127.0.0.70..74
	silentSrcs   = 5
)

const (
	beaconsPerSecond = 300
	silentPerNode    = 50
	brotliPerSecond  = 20
	// replaySettle: a node is sent replays only if it was up this long
	// before the original reached it; replayMinAge lets it read the
	// original first.
	replaySettle = 2 * time.Second
	replayMinAge = 200 * time.Millisecond
)

// lanStats counts what the attacker did and what it got.
type lanStats struct {
	beacons             [beaconKinds]atomic.Int64
	replaysWithheld     atomic.Int64
	beaconSendErrs      atomic.Int64
	captured, forwarded atomic.Int64

	silentOpened, silentClosedByNode, silentDialErrs atomic.Int64
	brotliSent, brotliClosedByNode, brotliAnswered   atomic.Int64
	brotliDialErrs                                   atomic.Int64
	lured, luredSecret                               atomic.Int64
}

func (s *lanStats) beaconsSent() int64 {
	var n int64
	for i := range s.beacons {
		n += s.beacons[i].Load()
	}
	return n
}

// capture is the latest real beacon the attacker sniffed from one node, and
// the nodes it then delivered it to (as the LAN's broadcast would).
type capture struct {
	data        []byte
	deliveredAt time.Time
	to          []*node
}

// lanAttacker is a hostile host on the nodes' LAN, on loopback. The nodes
// run discovery with their beacons addressed to attackerIP (a socket bound
// to 127.0.0.1 never hears 127.255.255.255, and binding the nodes to
// 0.0.0.0 would leave loopback), so the attacker sniffs every real beacon
// and, standing in for the broadcast, delivers it from 127.0.0.1 to the
// other nodes. Meanwhile it floods their discovery ports with forgeries and
// replays, holds silent TCP connections and sends compressed frames before
// any handshake.
type lanAttacker struct {
	c        *cluster
	st       *lanStats
	wrongKey protocol.BeaconKey
	bomb     []byte // a Brotli payload that would inflate to megabytes
	lurePort int

	mu       sync.Mutex
	captures map[*node]*capture
}

func newLANAttacker(c *cluster, st *lanStats) (*lanAttacker, error) {
	wrongKey, err := protocol.DeriveBeaconKey([]byte("not-the-cluster-key"))
	if err != nil {
		return nil, err
	}
	bomb := protocol.Compress(make([]byte, 8<<20), 9)
	if len(bomb) > 2048 {
		return nil, fmt.Errorf("brotli bomb of %d bytes does not fit a pre-auth frame", len(bomb))
	}
	return &lanAttacker{c: c, st: st, wrongKey: wrongKey, bomb: bomb, captures: map[*node]*capture{}}, nil
}

// run attacks for d (or until ctx ends) and returns once every socket it
// opened is closed and every goroutine it started has returned.
func (a *lanAttacker) run(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}
	defer closeAll()
	listenUDP := func(ip string, port int) (*net.UDPConn, error) {
		pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
		if err == nil {
			closers = append(closers, pc)
		}
		return pc, err
	}
	hub, err := listenUDP("127.0.0.1", 0)
	if err != nil {
		return fmt.Errorf("lan attacker: %w", err)
	}
	flood, err := listenUDP(attackerIP, 0)
	if err != nil {
		return fmt.Errorf("lan attacker: %w", err)
	}
	lure, err := net.Listen("tcp", attackerIP+":0")
	if err != nil {
		return fmt.Errorf("lan attacker: %w", err)
	}
	closers = append(closers, lure)
	a.lurePort = lure.Addr().(*net.TCPAddr).Port
	sniffers := map[*node]*net.UDPConn{}
	for _, n := range a.c.nodes {
		s, err := listenUDP(attackerIP, n.proc.UDPPort)
		if err != nil {
			return fmt.Errorf("lan attacker: sniffing %s's beacons: %w", n.name(), err)
		}
		sniffers[n] = s
	}

	var wg sync.WaitGroup
	for n, s := range sniffers {
		wg.Go(func() { a.sniff(n, s, hub) })
	}
	wg.Go(func() { a.acceptLured(lure) })
	wg.Go(func() { a.floodBeacons(ctx, flood) })
	wg.Go(func() { a.compressedFrames(ctx) })
	for _, n := range a.c.nodes {
		wg.Go(func() { a.silent(ctx, n) })
	}
	<-ctx.Done()
	closeAll() // ends the sniffers and the lure listener
	closers = nil
	wg.Wait()
	return nil
}

// sniff reads one node's real beacons and delivers each to the other
// nodes (not to or from a partitioned node: that would heal it).
func (a *lanAttacker) sniff(from *node, s *net.UDPConn, hub *net.UDPConn) {
	buf := make([]byte, protocol.MaxBeaconSize+1)
	for {
		k, src, err := s.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed at the end of the attack
		}
		if src.Port() != uint16(from.proc.UDPPort) {
			continue
		}
		a.st.captured.Add(1)
		if from.isolated.Load() {
			continue
		}
		cp := &capture{data: append([]byte(nil), buf[:k]...)}
		for _, to := range a.c.nodes {
			if to == from || to.isolated.Load() {
				continue
			}
			dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: to.proc.UDPPort}
			if _, err := hub.WriteToUDP(cp.data, dst); err == nil {
				a.st.forwarded.Add(1)
				cp.to = append(cp.to, to)
			}
		}
		cp.deliveredAt = time.Now()
		a.mu.Lock()
		a.captures[from] = cp
		a.mu.Unlock()
	}
}

// replayFor picks a captured beacon of another node that was delivered to
// target, if replaying it now is a fair test (replayAllowed).
func (a *lanAttacker) replayFor(target *node, seq int, now time.Time) ([]byte, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k := 0; k < len(a.c.nodes); k++ {
		from := a.c.nodes[(seq+k)%len(a.c.nodes)]
		cp := a.captures[from]
		if from == target || cp == nil || !containsNode(cp.to, target) {
			continue
		}
		if replayAllowed(target.changedAt(), cp.deliveredAt, now, target.isolated.Load(), replaySettle, replayMinAge) {
			return cp.data, true
		}
	}
	return nil, false
}

func (a *lanAttacker) anyCapture() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, cp := range a.captures {
		return cp.data
	}
	return nil
}

func containsNode(ns []*node, n *node) bool {
	for _, o := range ns {
		if o == n {
			return true
		}
	}
	return false
}

// floodBeacons sends beaconsPerSecond datagrams to the nodes' discovery
// ports, cycling through the kinds of forgery and the nodes.
func (a *lanAttacker) floodBeacons(ctx context.Context, s *net.UDPConn) {
	const perTick = 3
	t := time.NewTicker(time.Second * perTick / beaconsPerSecond)
	defer t.Stop()
	for seq := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for range perTick {
			kind := beaconKind(seq % int(beaconKinds))
			target := a.c.nodes[(seq/int(beaconKinds))%len(a.c.nodes)]
			seq++
			now := time.Now()
			var msg []byte
			var err error
			switch kind {
			case beaconReplay:
				var ok bool
				if msg, ok = a.replayFor(target, seq, now); !ok {
					a.st.replaysWithheld.Add(1)
					continue
				}
			case beaconTampered:
				if msg = a.anyCapture(); msg == nil {
					continue
				}
				msg, err = forgeBeacon(kind, nil, msg, a.lurePort, seq, now)
			default:
				msg, err = forgeBeacon(kind, a.wrongKey, nil, a.lurePort, seq, now)
			}
			if err != nil {
				a.st.beaconSendErrs.Add(1)
				continue
			}
			dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: target.proc.UDPPort}
			if _, err := s.WriteToUDP(msg, dst); err != nil {
				a.st.beaconSendErrs.Add(1)
				continue
			}
			a.st.beacons[kind].Add(1)
		}
	}
}

// acceptLured counts nodes that dialled the address the forgeries
// announce: any is a forged beacon taken as a peer. It reads what such a
// node sends, looking for the secret.
func (a *lanAttacker) acceptLured(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		a.st.lured.Add(1)
		sc := newSecretScanner(a.c.secretNeedles()...)
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(sc, io.LimitReader(conn, 64<<10))
		a.st.luredSecret.Add(int64(sc.hits))
		_ = conn.Close()
	}
}

// silent holds silentPerNode connections to a node's sync port that never
// say a word, from silentSrcs loopback addresses, topping them up each
// second as the node closes them (handshake deadline, per-source cap).
func (a *lanAttacker) silent(ctx context.Context, n *node) {
	var mu sync.Mutex
	live := map[net.Conn]struct{}{}
	var readers sync.WaitGroup
	defer func() {
		mu.Lock()
		for c := range live {
			_ = c.Close()
		}
		mu.Unlock()
		readers.Wait()
	}()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for seq := 0; ; {
		mu.Lock()
		missing := silentPerNode - len(live)
		mu.Unlock()
		for range missing {
			src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(silentSrcIP0+seq%silentSrcs))}
			seq++
			d := net.Dialer{LocalAddr: src, Timeout: time.Second}
			conn, err := d.DialContext(ctx, "tcp", n.addr)
			if err != nil {
				a.st.silentDialErrs.Add(1)
				break // the node may be down: try again next tick
			}
			a.st.silentOpened.Add(1)
			mu.Lock()
			live[conn] = struct{}{}
			mu.Unlock()
			readers.Go(func() {
				_, err := conn.Read(make([]byte, 64))
				mu.Lock()
				_, ours := live[conn]
				delete(live, conn)
				mu.Unlock()
				if ours && ctx.Err() == nil && err != nil {
					a.st.silentClosedByNode.Add(1)
				}
				_ = conn.Close()
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// compressedFrames opens connections that send one small frame flagged as
// Brotli (a payload that would inflate to megabytes) before any handshake,
// as a HandshakeReq, a Noise hello and a Noise transport frame in turn.
// A node must close them without answering a handshake.
func (a *lanAttacker) compressedFrames(ctx context.Context) {
	types := []protocol.MsgType{protocol.HandshakeReq, protocol.NoiseHandshake, protocol.NoiseEnv}
	t := time.NewTicker(time.Second / brotliPerSecond)
	defer t.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := a.c.nodes[seq%len(a.c.nodes)]
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(brotliSrcIP)}, Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", n.addr)
		if err != nil {
			a.st.brotliDialErrs.Add(1)
			continue
		}
		frame := binary.LittleEndian.AppendUint32(nil, uint32(len(a.bomb)))
		frame = append(frame, byte(types[seq%len(types)]), 1)
		frame = append(frame, a.bomb...)
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Write(frame); err == nil {
			a.st.brotliSent.Add(1)
			answered, closed := readAnswer(conn)
			if answered {
				a.st.brotliAnswered.Add(1)
			}
			if closed {
				a.st.brotliClosedByNode.Add(1)
			}
		}
		_ = conn.Close()
	}
}

// readAnswer reads what a node sends back to a refused hello: answered is
// an accepted handshake or a Noise reply (the refusal is an empty Noise
// frame, or nothing); closed is the node closing before the deadline.
func readAnswer(conn net.Conn) (answered, closed bool) {
	for {
		f, err := protocol.ReadFrame(conn, 1<<20)
		if err != nil {
			var ne net.Error
			return answered, !(errors.As(err, &ne) && ne.Timeout())
		}
		switch f.Type {
		case protocol.HandshakeRes:
			var res pb.HandshakeResponse
			if proto.Unmarshal(f.Payload, &res) == nil && res.GetAccepted() {
				answered = true
			}
		case protocol.NoiseHandshake:
			answered = answered || len(f.Payload) > 0
		default:
			answered = true
		}
	}
}

// luredLogLines are the lines of a node's log where it took a peer from
// the attacker: an address of attackerIP or a node id it invented.
func luredLogLines(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "peer discovered") && !strings.Contains(line, "peer address changed") {
			continue
		}
		if strings.Contains(line, attackerIP+":") || strings.Contains(line, forgedNodePrefix) {
			out = append(out, line)
		}
	}
	return out
}
