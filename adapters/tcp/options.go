// Package tcp is the EntglDb transport over TCP (docs/PROTOCOL.md §1, §3,
// §4): a Server that answers peers' requests through a ports.SyncHandler,
// and a Dialer that opens handshaken ports.PeerSession connections to peers.
// Go peers meet over Noise keyed by the cluster secret and prove their
// identity keys (Trust); the v5 handshake that sends the cluster key is kept
// for listed C#/TypeScript peers only. Framing, compression and both secure
// channels live in adapters/protocol.
package tcp

import (
	"context"
	"time"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/ports"
)

// ServerOptions configures a Server. Zero values take the defaults noted.
type ServerOptions struct {
	// Trust is who we are and whom we let in; Trust.Identity.NodeID is the
	// node id we announce.
	Trust Trust
	// BindAddress and Port are where to listen; Port 0 picks a free port
	// (see Server.Addr).
	BindAddress string
	Port        int
	// Secure selects the legacy channel mode (ECDH + AES-CBC/HMAC before the
	// handshake) expected from Trust.LegacyPeers; Go peers always use Noise.
	Secure      bool
	Compression bool // offer Brotli in the handshake
	// Interests are our collections of interest, announced in HandshakeRes.
	Interests []string
	// MaxConnections caps concurrent inbound connections; excess ones are
	// closed at once (default 100).
	MaxConnections int
	// MaxFrameBytes caps one frame's payload (default 16 MiB).
	MaxFrameBytes int
	// IdleTimeout is how long a connection may take to deliver its next
	// request frame, whole; a peer trickling bytes is cut when it passes
	// (default 60 s).
	IdleTimeout time.Duration
	// LegacyIdleTimeout replaces IdleTimeout, when longer, on an accepted
	// session of a family peer: a C# 2.x node handshakes once and reuses
	// the connection for every round, backing off up to 60 s after a
	// failure, and never handshakes again on it (default 3 min).
	LegacyIdleTimeout time.Duration
	// HandshakeTimeout bounds the key exchange and the handshake together
	// (default 5 s).
	HandshakeTimeout time.Duration
	// WriteTimeout bounds writing one response frame (default 30 s), and
	// how long a snapshot request waits for a serving slot.
	WriteTimeout time.Duration
	// MaxPreAuthPerSource caps the connections one source IP may hold open
	// before completing a handshake (default 8): a newer one closes its
	// oldest, so silent connections cannot pile up.
	MaxPreAuthPerSource int
	// MaxConcurrentSnapshots caps the snapshots encoded and sent at once
	// (default 2): each holds the whole encoded database in memory.
	MaxConcurrentSnapshots int
}

const (
	defaultMaxConnections   = 100
	defaultIdleTimeout      = 60 * time.Second
	defaultLegacyIdle       = 3 * time.Minute
	defaultHandshakeTimeout = 5 * time.Second
	defaultWriteTimeout     = 30 * time.Second
	defaultConnectTimeout   = 5 * time.Second
	defaultRequestTimeout   = 30 * time.Second
	keepAlivePeriod         = 30 * time.Second
	defaultMaxPreAuth       = 8
	defaultMaxSnapshots     = 2
)

func (o ServerOptions) withDefaults() ServerOptions {
	if o.MaxConnections <= 0 {
		o.MaxConnections = defaultMaxConnections
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = protocol.DefaultMaxFrameBytes
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	if o.LegacyIdleTimeout <= 0 {
		o.LegacyIdleTimeout = defaultLegacyIdle
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = defaultHandshakeTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = defaultWriteTimeout
	}
	if o.MaxPreAuthPerSource <= 0 {
		o.MaxPreAuthPerSource = defaultMaxPreAuth
	}
	if o.MaxConcurrentSnapshots <= 0 {
		o.MaxConcurrentSnapshots = defaultMaxSnapshots
	}
	return o
}

// DialerOptions configures a Dialer. Zero values take the defaults noted.
type DialerOptions struct {
	// Trust is who we are and how we check the peers we dial;
	// Trust.Identity.NodeID is the node id we announce.
	Trust Trust
	// Secure selects the legacy channel mode used with Trust.LegacyPeers;
	// Go peers always use Noise.
	Secure      bool
	Compression bool
	// ConnectTimeout bounds the TCP connect, and again the key exchange plus
	// handshake (Network.ConnectionTimeoutMs, default 5 s).
	ConnectTimeout time.Duration
	// RequestTimeout bounds one request/response pair unless the caller's
	// context ends sooner (default 30 s).
	RequestTimeout time.Duration
	MaxFrameBytes  int // default 16 MiB
	// MaxResponseBytes caps one answer of a family peer (Trust.LegacyPeers)
	// to our own requests: a C# 2.x node answers a pull with its whole
	// oplog in one frame. Raised from MaxFrameBytes only once the peer is
	// authenticated (default protocol.DefaultMaxResponseBytes, never below
	// MaxFrameBytes).
	MaxResponseBytes int
	// Interests are the collections we ask peers for (empty: all).
	Interests []string
	// MaxIdlePerPeer is how many idle sessions per address are kept for
	// reuse (default 1; negative disables pooling).
	MaxIdlePerPeer int
	// MaxIdleTime drops a pooled session unused for longer (default 30 s,
	// below the server's default IdleTimeout so we rarely reuse a session
	// the server is about to cut).
	MaxIdleTime time.Duration
}

func (o DialerOptions) withDefaults() DialerOptions {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = defaultRequestTimeout
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = protocol.DefaultMaxFrameBytes
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = protocol.DefaultMaxResponseBytes
	}
	o.MaxResponseBytes = max(o.MaxResponseBytes, o.MaxFrameBytes)
	if o.MaxIdlePerPeer == 0 {
		o.MaxIdlePerPeer = 1
	}
	if o.MaxIdleTime <= 0 {
		o.MaxIdleTime = 30 * time.Second
	}
	return o
}

// CollectionLister is an optional capability of a ports.SyncHandler: the
// collections it holds, announced as our interests in the handshake answer
// to a family peer (a C# node on its BLite store pushes nothing to a peer
// that announces none).
type CollectionLister interface {
	Collections(ctx context.Context) ([]string, error)
}

// RejectionRecorder is an optional capability of a ports.SyncHandler: the
// server tells it about pushed entries it could not even decode (unknown
// operation, invalid JSON), so they are counted and reported like the
// entries the handler refuses itself.
type RejectionRecorder interface {
	RecordRejected(peer ports.PeerInfo, errs []error)
}
