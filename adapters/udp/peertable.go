package udp

import (
	"net/netip"
	"time"

	"github.com/entgldb/entgldb-go/adapters/protocol"
)

// peerTable holds the discovered peers by node id. It is bounded: a new
// node id is refused once the table, or the share of it one source address
// may hold, is full, while known ids keep refreshing. On a closed cluster an
// entry outlives its peer's expiry until its last accepted beacon is out of
// the freshness window, so a replay of that beacon is still recognised.
type peerTable map[string]*peerState

type peerState struct {
	addr      string     // source IP of the beacon plus its tcp port
	source    netip.Addr // counted against the per-source limit
	interests []string
	lastSeen  time.Time // local clock
	sentAt    int64     // sender's stamp on the last accepted beacon
	movedAt   time.Time // when a move was last reported
	gone      bool      // expired and reported; kept only to recognise replays
}

// tableLimits are the Options that bound a peerTable.
type tableLimits struct {
	maxPeers, maxPerSource int
	expiry                 time.Duration
	// replay: beacons are authenticated, so their stamps can be trusted to
	// order them; freshness is how long a stamp is accepted.
	replay    bool
	freshness time.Duration
}

// verdict is what admit did with a beacon.
type verdict int

const (
	refreshed verdict = iota // a live peer heard again, same address
	moved                    // a live peer heard at a new address, first time within an expiry
	appeared                 // a new peer, or one that had expired
	stale                    // not newer than the last accepted beacon of its node
	overCap                  // a new node id with the table or its source full
)

// admit records beacon b received from src (addr is where to dial it).
func (t peerTable) admit(b protocol.Beacon, src netip.Addr, addr string, now time.Time, lim tableLimits) verdict {
	p, known := t[b.NodeID]
	if !known {
		if len(t) >= lim.maxPeers || t.fromSource(src) >= lim.maxPerSource {
			return overCap
		}
		t[b.NodeID] = &peerState{addr: addr, source: src, interests: b.Interests, lastSeen: now, sentAt: b.SentAt}
		return appeared
	}
	if lim.replay && b.SentAt <= p.sentAt {
		return stale
	}
	v := refreshed
	switch {
	case p.gone || now.Sub(p.lastSeen) > lim.expiry:
		v = appeared
	case p.addr != addr && now.Sub(p.movedAt) > lim.expiry:
		// A peer flapping between addresses (or an open cluster's forger
		// moving it) is reported once per expiry, not per beacon.
		v, p.movedAt = moved, now
	}
	p.addr, p.source, p.interests, p.lastSeen, p.sentAt, p.gone = addr, src, b.Interests, now, b.SentAt, false
	return v
}

// fromSource counts the entries whose last beacon came from src.
func (t peerTable) fromSource(src netip.Addr) int {
	n := 0
	for _, p := range t {
		if p.source == src {
			n++
		}
	}
	return n
}

// goneMember is a peer expire reported gone.
type goneMember struct{ id, addr string }

// expire marks peers not heard from within the expiry as gone, returning
// those newly gone, and deletes the entries nothing needs any longer.
func (t peerTable) expire(now time.Time, lim tableLimits) (gone []goneMember) {
	for id, p := range t {
		if now.Sub(p.lastSeen) <= lim.expiry {
			continue
		}
		if !p.gone {
			p.gone = true
			gone = append(gone, goneMember{id, p.addr})
		}
		if !lim.replay || now.UnixMilli()-p.sentAt > lim.freshness.Milliseconds() {
			delete(t, id)
		}
	}
	return gone
}
