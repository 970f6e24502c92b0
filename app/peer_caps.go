package app

import (
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// legacyPeer is what the engine remembers of a peer that does not speak v5
// (the family's older nodes and the TypeScript node), so that a round with
// it goes straight to what it speaks instead of probing again and waiting
// out the timeouts of the requests it leaves unanswered.
type legacyPeer struct {
	until        time.Time // speak v4 until then, then probe v5 again
	lastFullPull time.Time
	// pullOnly: it answers no clock request either (the TypeScript node);
	// remembered with until.
	pullOnly bool
	// pushes is whether its server takes our pushes; only a pull-only
	// peer is asked, since it never pulls what is older than its own
	// newest document (sync_legacy_push.go).
	pushes pushCapability
	// pushedThrough is how far our oplog has been pushed to a pull-only
	// peer, and lastFullPush when it was last pushed from the beginning.
	pushedThrough domain.Timestamp
	lastFullPush  time.Time
}

// pushCapability is whether a peer's server takes pushes.
type pushCapability uint8

const (
	pushesUnknown pushCapability = iota
	pushesAccepted
	pushesRefused
)

// legacyState is what is remembered of the v4 peer at addr, nil when it is
// not known to be one (or the memory is older than LegacyRecheck).
func (e *SyncEngine) legacyState(addr string) *legacyPeer {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.legacy[addr]
	if l == nil || time.Now().After(l.until) {
		return nil
	}
	return l
}

// markLegacy remembers that the peer at addr does not speak v5 (and
// pullOnly: no clock request either) for LegacyRecheck.
func (e *SyncEngine) markLegacy(addr string, pullOnly bool) *legacyPeer {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.legacy[addr]
	if l == nil {
		l = &legacyPeer{}
		e.legacy[addr] = l
	}
	l.until = time.Now().Add(e.opts.LegacyRecheck)
	l.pullOnly = pullOnly
	return l
}

// takesNoPushes reports whether the peer at addr is remembered as a
// pull-only peer whose server leaves pushes unanswered.
func (e *SyncEngine) takesNoPushes(addr string) bool {
	l := e.legacyState(addr)
	if l == nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return l.pullOnly && l.pushes == pushesRefused
}
