package app

import (
	"context"
	"maps"
	"time"
)

// triggerGap bounds how often a peer that keeps appearing (one that
// flaps, expiring and coming back) is synced for it, and how soon after a
// round a kicked one may start, when Interval is not shorter: triggers
// arriving meanwhile are coalesced.
const triggerGap = time.Second

// peerAnnouncer is a Discovery that says when its peers change: the
// channel it returns is closed when one next appears or goes (the engine
// must see a peer gone to know it new when it comes back).
type peerAnnouncer interface {
	PeersChanged() <-chan struct{}
}

// roundLoop runs a round at once, so a starting node does not wait an
// interval for its peers, then one every Interval; one with the new peers
// only as soon as a peer appears (each peer at most once per gap); and one
// as soon as the gap after the last round allows when kicked. Rounds run
// one at a time, so whatever triggers arrive during one are taken together
// by the next.
func (e *SyncEngine) roundLoop(ctx context.Context) {
	t := time.NewTicker(e.opts.Interval)
	defer t.Stop()
	gap := min(e.opts.Interval, triggerGap)
	announcer, _ := e.discovery.(peerAnnouncer)
	changed := peersChanged(announcer)
	known := map[string]bool{}
	e.newPeers(known) // those listed now: the first round picks among them
	e.round(ctx, e.pick(e.opts.Fanout))
	e.afterRound(ctx)
	ended := time.Now()
	arrivals := newArrivals(gap)
	wake := time.NewTimer(time.Hour)
	wake.Stop()
	defer wake.Stop()
	for {
		onlyNew := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.kick:
			if !sleepUntil(ctx, ended.Add(gap)) {
				return
			}
		case <-changed:
			// Taken before the peers are listed: a change after this is
			// either in the list or closes the new channel.
			changed = peersChanged(announcer)
			onlyNew = true
		case <-wake.C:
			onlyNew = true
		}
		fresh, listed := e.newPeers(known)
		now := time.Now()
		targets, next := arrivals.due(fresh, listed, now)
		if next > 0 {
			wake.Reset(next)
		}
		if !onlyNew {
			targets = mergeTargets(targets, e.pick(e.opts.Fanout))
		}
		if len(targets) == 0 && onlyNew {
			continue
		}
		e.round(ctx, targets)
		e.afterRound(ctx)
		ended = time.Now()
	}
}

// peersChanged is a's next change (nil, which never fires, without an
// announcer).
func peersChanged(a peerAnnouncer) <-chan struct{} {
	if a == nil {
		return nil
	}
	return a.PeersChanged()
}

// newPeers returns the peers listed now that were not at the last look
// (known), leaving out those whose circuit breaker is open (the retry
// policy decides when they are tried again), and the addresses listed now,
// which known becomes. A peer that expires and comes back is new again.
func (e *SyncEngine) newPeers(known map[string]bool) ([]peerTarget, map[string]bool) {
	all := e.peers()
	var fresh []peerTarget
	listed := make(map[string]bool, len(all))
	for _, t := range all {
		listed[t.addr] = true
		if !known[t.addr] && !e.exec.BreakerOpen(t.addr) {
			fresh = append(fresh, t)
		}
	}
	clear(known)
	maps.Copy(known, listed)
	return fresh, listed
}

// arrivals paces the rounds peers get for appearing: each peer at most
// once per gap; one that comes back sooner waits until its gap has passed.
type arrivals struct {
	gap     time.Duration
	synced  map[string]time.Time // when each peer was last synced for appearing
	waiting map[string]peerTarget
}

func newArrivals(gap time.Duration) *arrivals {
	return &arrivals{gap: gap, synced: map[string]time.Time{}, waiting: map[string]peerTarget{}}
}

// due takes the peers that just appeared and returns those to sync now,
// among them and the waiting ones still listed, and how long until the next
// waiting one is due (0: none waits).
func (a *arrivals) due(fresh []peerTarget, listed map[string]bool, now time.Time) ([]peerTarget, time.Duration) {
	for _, t := range fresh {
		a.waiting[t.addr] = t
	}
	var out []peerTarget
	var next time.Duration
	for addr, t := range a.waiting {
		if !listed[addr] {
			delete(a.waiting, addr) // gone again: its next appearance will say
			continue
		}
		if wait := a.synced[addr].Add(a.gap).Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		out = append(out, t)
		a.synced[addr] = now
		delete(a.waiting, addr)
	}
	for addr, at := range a.synced {
		if now.Sub(at) >= a.gap {
			delete(a.synced, addr) // as good as never synced: bounded by the peers of a gap
		}
	}
	return out, next
}

// mergeTargets is a followed by the peers of b it does not hold.
func mergeTargets(a, b []peerTarget) []peerTarget {
	out := a
	for _, t := range b {
		dup := false
		for _, u := range a {
			dup = dup || u.addr == t.addr
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}

// sleepUntil waits until deadline (at once when it has passed); false when
// ctx ended first.
func sleepUntil(ctx context.Context, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
