package udp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// The family's discovery: a C# node binds UDP 25000 and beacons JSON on
// each interface's directed broadcast address (docs/PROTOCOL-NOTES.md, "The
// family today"). With Options.FamilyPort a Go node also announces itself
// there in that shape, so family nodes find it, and listens there to report
// the family nodes of its cluster it hears. Those are not sync peers: a
// family node is spoken to only when listed (Security.LegacyPeers and
// Network.StaticPeers), so a beacon never makes this node send the cluster
// secret anywhere.

// familyBeacon is the family's JSON beacon.
type familyBeacon struct {
	NodeID      string   `json:"node_id"`
	TCPPort     int      `json:"tcp_port"`
	ClusterHash string   `json:"cluster_hash"`
	Interests   []string `json:"interests"`
}

// maxFamilyDatagram bounds a family beacon read.
const maxFamilyDatagram = 8 << 10

// FamilyClusterHash is the family beacon's cluster_hash: the first 8
// characters of the upper-case hex SHA-256 of the token ("" for none).
func FamilyClusterHash(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return strings.ToUpper(hex.EncodeToString(sum[:]))[:8]
}

// startFamily binds the family port and starts its loops; called by Start
// under d.mu once the main socket is bound.
func (d *Discovery) startFamily(ctx, runCtx context.Context, bind string) error {
	lc := net.ListenConfig{Control: reusePort}
	pc, err := lc.ListenPacket(ctx, "udp4", net.JoinHostPort(bind, strconv.Itoa(d.opts.FamilyPort)))
	if err != nil {
		return err
	}
	d.famConn = pc.(*net.UDPConn)
	d.wg.Add(2)
	go d.familyReceive(d.famConn)
	go d.familyAnnounce(runCtx, d.famConn)
	d.logger.Warn("announcing this node to the C#/TypeScript family's discovery: its beacon carries 32 bits of the cluster secret's hash",
		zap.Int("family_udp_port", d.opts.FamilyPort))
	return nil
}

// FamilyNodes are the family nodes of our cluster heard on the family port:
// node id → sync address.
func (d *Discovery) FamilyNodes() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.family)
}

func (d *Discovery) familyAnnounce(ctx context.Context, conn *net.UDPConn) {
	defer d.wg.Done()
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	for {
		d.familyBroadcast(conn)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Discovery) familyBroadcast(conn *net.UDPConn) {
	port := int(d.tcpPort.Load())
	if port == 0 {
		return
	}
	d.mu.Lock()
	b := familyBeacon{NodeID: d.opts.NodeID, TCPPort: port, ClusterHash: FamilyClusterHash(d.opts.AuthToken), Interests: d.interests}
	d.mu.Unlock()
	if b.Interests == nil {
		b.Interests = []string{}
	}
	msg, err := json.Marshal(b)
	if err != nil {
		return
	}
	for _, ip := range d.targets() {
		to := netip.AddrPortFrom(ip, uint16(d.opts.FamilyPort))
		if _, err := conn.WriteToUDPAddrPort(msg, to); err != nil {
			d.sendErrors.Add(1)
			continue
		}
		d.familySent.Add(1)
	}
}

func (d *Discovery) familyReceive(conn *net.UDPConn) {
	defer d.wg.Done()
	buf := make([]byte, maxFamilyDatagram)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		d.familyHandle(buf[:n], from.Addr().Unmap())
	}
}

// familyHandle records a family beacon of our cluster; anything else (our
// own, another cluster's, not a family beacon) is counted and dropped.
func (d *Discovery) familyHandle(datagram []byte, src netip.Addr) {
	var b familyBeacon
	if json.Unmarshal(datagram, &b) != nil || b.NodeID == "" || b.TCPPort < 1 || b.TCPPort > 65535 ||
		b.NodeID == d.opts.NodeID || b.ClusterHash != FamilyClusterHash(d.opts.AuthToken) {
		d.familyDropped.Add(1)
		return
	}
	addr := net.JoinHostPort(src.String(), strconv.Itoa(b.TCPPort))
	d.mu.Lock()
	prev, known := d.family[b.NodeID]
	if !known && len(d.family) >= d.opts.MaxPeers {
		d.mu.Unlock()
		d.familyDropped.Add(1)
		return
	}
	d.family[b.NodeID] = addr
	d.mu.Unlock()
	d.familySeen.Add(1)
	if prev != addr {
		d.logger.Info("family node heard on the family port; list it in Security.LegacyPeers and Network.StaticPeers to sync with it",
			zap.String("peer", b.NodeID), zap.String("address", addr))
	}
}
