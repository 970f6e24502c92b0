package tcp

import (
	"net"
	"sync"
	"time"
)

// refusal is why a handshake was refused; each has its counter in Stats.
type refusal int

const (
	refusedWrongKey  refusal = iota // no proof of the cluster key (Noise failed, wrong v5 token)
	refusedLegacy                   // a v5 handshake from a source not in LegacyPeers
	refusedIdentity                 // a known node id with another identity key
	refusedBadProof                 // the identity proof did not verify
	refusedSelf                     // the peer announced our own node id
	refusedMalformed                // bytes that are no handshake of any mode
	refusedTimeout                  // no complete handshake within HandshakeTimeout
	numRefusals
)

func (r refusal) String() string {
	return [...]string{"wrong cluster key", "legacy handshake not allowed from this source",
		"identity key differs from the one first seen for this node id", "bad identity proof",
		"peer announced our own node id (self-connection)", "malformed handshake", "handshake timed out"}[r]
}

// Stats are the server's connection and handshake counters, for metrics and
// health reports.
type Stats struct {
	// Active connections are being served (authenticated or not).
	Active int
	// HandshakesAccepted completed a handshake, Noise or v5.
	HandshakesAccepted uint64
	// RejectedFull were closed at once: MaxConnections were served and every
	// one of them had authenticated.
	RejectedFull uint64
	// EvictedPreAuth were still unauthenticated and closed to make room for
	// a newer connection (the per-source cap, or MaxConnections).
	EvictedPreAuth uint64
	// Refused handshakes, by reason.
	RefusedWrongKey  uint64
	RefusedLegacy    uint64
	RefusedIdentity  uint64
	RefusedBadProof  uint64
	RefusedSelf      uint64
	RefusedMalformed uint64
	RefusedTimeout   uint64
	// SnapshotsRefused waited longer than WriteTimeout for a serving slot;
	// their connections were closed.
	SnapshotsRefused uint64
}

// Refused sums the refused handshakes of every reason.
func (s Stats) Refused() uint64 {
	return s.RefusedWrongKey + s.RefusedLegacy + s.RefusedIdentity + s.RefusedBadProof +
		s.RefusedSelf + s.RefusedMalformed + s.RefusedTimeout
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	r := func(x refusal) uint64 { return s.refused[x].Load() }
	return Stats{
		Active:             s.ActiveConnections(),
		HandshakesAccepted: s.handshakes.Load(),
		RejectedFull:       uint64(s.rejected.Load()),
		EvictedPreAuth:     s.evicted.Load(),
		RefusedWrongKey:    r(refusedWrongKey),
		RefusedLegacy:      r(refusedLegacy),
		RefusedIdentity:    r(refusedIdentity),
		RefusedBadProof:    r(refusedBadProof),
		RefusedSelf:        r(refusedSelf),
		RefusedMalformed:   r(refusedMalformed),
		RefusedTimeout:     r(refusedTimeout),
		SnapshotsRefused:   s.snapshotsRefused.Load(),
	}
}

// refusalLogEvery is how often one source's refusals are logged above Debug,
// so a stranger hammering the port cannot flood the log.
const refusalLogEvery = time.Minute

// maxRefusalSources bounds the limiter's memory; past it, entries older than
// refusalLogEvery are dropped (and all of them if that is not enough).
const maxRefusalSources = 4096

// refusalLimiter says whether a refusal from a source is logged at Warn.
type refusalLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time // guarded by mu
}

func (l *refusalLimiter) allow(src string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[src]; ok && now.Sub(t) < refusalLogEvery {
		return false
	}
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if len(l.last) >= maxRefusalSources {
		for k, t := range l.last {
			if now.Sub(t) >= refusalLogEvery {
				delete(l.last, k)
			}
		}
		if len(l.last) >= maxRefusalSources {
			clear(l.last)
		}
	}
	l.last[src] = now
	return true
}

// preAuthConn is an admitted connection that has not completed a handshake.
type preAuthConn struct {
	src string
	seq uint64 // admission order: the lowest is the oldest
}

// evictOldestLocked closes the oldest unauthenticated connection (of src, or
// of any source when src is empty) and forgets it, so its slot is free at
// once; its serve goroutine then fails its read and ends. It reports
// whether there was one. The caller holds mu.
func (s *Server) evictOldestLocked(src string) bool {
	var oldest net.Conn
	var seq uint64
	for c, p := range s.preAuth {
		if (src == "" || p.src == src) && (oldest == nil || p.seq < seq) {
			oldest, seq = c, p.seq
		}
	}
	if oldest == nil {
		return false
	}
	_ = oldest.Close()
	delete(s.preAuth, oldest)
	delete(s.conns, oldest)
	s.evicted.Add(1)
	return true
}

// preAuthFrom counts the unauthenticated connections of src. The caller
// holds mu.
func (s *Server) preAuthFrom(src string) int {
	n := 0
	for _, p := range s.preAuth {
		if p.src == src {
			n++
		}
	}
	return n
}

// authenticated takes conn off the list of connections that may be evicted.
func (s *Server) authenticated(conn net.Conn) {
	s.mu.Lock()
	delete(s.preAuth, conn)
	s.mu.Unlock()
	s.handshakes.Add(1)
}
