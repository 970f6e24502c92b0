package tcp

import (
	"context"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/ports"
)

// Trust is what the sync plane needs to prove membership and identity, for
// the Server and the Dialer alike. Go peers meet over Noise keyed by PSK and
// prove their Identity bound to that connection; the cluster secret itself
// is never sent. Only the LegacyPeers (C# and TypeScript nodes, which speak
// nothing but the v5 handshake) are sent, or may present, LegacyToken.
type Trust struct {
	// PSK is protocol.DerivePSK of the cluster secret.
	PSK [32]byte
	// Identity is this node's id and ed25519 key.
	Identity protocol.Identity
	// PeerKeys remembers the identity key first seen per node id and
	// refuses another one (nil: nothing remembered, any proven key passes).
	PeerKeys ports.PeerKeys
	// LegacyToken is the cluster key sent (dialer) or checked (server) in
	// the v5 handshake with LegacyPeers.
	LegacyToken string
	// LegacyPeers are the host:port addresses spoken to the v5 way: the
	// dialer sends them LegacyToken (the address must match as written);
	// the server accepts a v5 handshake only from the IP addresses their
	// hosts resolve to. Every other peer must speak Noise.
	LegacyPeers []string
}

// isLegacyPeer reports whether the dialer speaks the v5 handshake to address.
func (t Trust) isLegacyPeer(address string) bool {
	return slices.Contains(t.LegacyPeers, address)
}

// legacyResolveEvery limits how often a source not in the legacy list makes
// the server resolve the listed hosts again (their addresses may change).
const legacyResolveEvery = 30 * time.Second

// legacySources is the server's set of source IPs allowed the v5 handshake:
// the addresses of the LegacyPeers hosts, resolved at start and again on a
// miss at most every legacyResolveEvery.
type legacySources struct {
	hosts []string

	mu       sync.Mutex
	ips      map[string]bool // guarded by mu
	resolved time.Time       // guarded by mu
}

func newLegacySources(peers []string) *legacySources {
	l := &legacySources{ips: map[string]bool{}}
	for _, p := range peers {
		host, _, err := net.SplitHostPort(p)
		if err != nil {
			host = p
		}
		if host != "" && !slices.Contains(l.hosts, host) {
			l.hosts = append(l.hosts, host)
		}
	}
	return l
}

// allowed reports whether ip may speak the v5 handshake.
func (l *legacySources) allowed(ip string) bool {
	if len(l.hosts) == 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ips[ip] {
		return true
	}
	if time.Since(l.resolved) < legacyResolveEvery {
		return false
	}
	l.resolveLocked()
	return l.ips[ip]
}

// resolve looks the hosts up now (at server start).
func (l *legacySources) resolve() {
	if len(l.hosts) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resolveLocked()
}

// resolveLocked replaces the set with the hosts' current addresses; a host
// that does not resolve keeps none. The caller holds mu.
func (l *legacySources) resolveLocked() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips := map[string]bool{}
	for _, h := range l.hosts {
		addrs, err := net.DefaultResolver.LookupHost(ctx, h)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ip := net.ParseIP(a); ip != nil {
				ips[ip.String()] = true
			}
		}
	}
	l.ips = ips
	l.resolved = time.Now()
}

// sourceIP is the IP of a connection's remote end, normalised like the
// resolved legacy addresses.
func sourceIP(c net.Conn) string {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}
