package app

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// MaxRecentErrors is how many errors the status tracker remembers.
const MaxRecentErrors = 50

// StatusOptions inject what the tracker reports but does not own.
type StatusOptions struct {
	// Now is the wall clock (default time.Now).
	Now func() time.Time
	// QueueLen reports the offline queue's length (nil: 0).
	QueueLen func(ctx context.Context) (int, error)
	// CacheStats reports the document cache's counters (nil: zeros).
	CacheStats func() ports.CacheStats
	// Observer counts sync rounds, bytes and connected peers (nil: none).
	Observer Observer
	// Discovery lists the peers known now, discovered or static (nil: the
	// peers list shows only peers the tracker has heard of).
	Discovery ports.Discovery
	// Replication counts refused entries and pushes, and failing peers, for
	// the metrics (nil: none).
	Replication ReplicationObserver
	// Storage reports what the store holds and what maintenance did
	// (Maintenance.Report; nil: zeros).
	Storage func(ctx context.Context) ports.StorageReport
}

// StatusTracker records the node's sync state: online flag, peers, sync
// totals and the last MaxRecentErrors errors. Safe for concurrent use.
type StatusTracker struct {
	nodeID string
	opts   StatusOptions

	mu       sync.Mutex
	online   bool
	lastSync int64 // Unix ms of the last successful sync, 0 = never
	peers    map[string]*ports.PeerStatus
	errs     []ports.ErrorRecord // ring buffer, oldest first once full
	errNext  int
	docs     int64
	bytes    int64
}

// NewStatusTracker returns a tracker for the node nodeID.
func NewStatusTracker(nodeID string, opts StatusOptions) *StatusTracker {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Observer = orNop(opts.Observer)
	if opts.Replication == nil {
		opts.Replication = nopReplication{}
	}
	return &StatusTracker{nodeID: nodeID, opts: opts, peers: make(map[string]*ports.PeerStatus)}
}

func (t *StatusTracker) nowMs() int64 { return t.opts.Now().UnixMilli() }

// peer returns the record of nodeID, creating it; address updates it when
// non-empty. Call with mu held.
func (t *StatusTracker) peer(nodeID, address string) *ports.PeerStatus {
	p, ok := t.peers[nodeID]
	if !ok {
		p = &ports.PeerStatus{NodeID: nodeID}
		t.peers[nodeID] = p
	}
	if address != "" {
		p.Address = address
	}
	return p
}

// ObservePeer records a peer found by discovery or configuration.
func (t *StatusTracker) ObservePeer(p domain.Peer) {
	if p.NodeID == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.peer(p.NodeID, p.Address)
	if p.Source != "" {
		ps.Source = string(p.Source)
	}
	ps.LastSeen = max(ps.LastSeen, p.LastSeen)
}

// ForgetPeer drops a peer that is gone.
func (t *StatusTracker) ForgetPeer(nodeID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.peers, nodeID)
	t.reportFailingLocked()
}

// SetPeerConnected records that a session with the peer opened or closed.
func (t *StatusTracker) SetPeerConnected(nodeID, address string, connected bool) {
	if nodeID == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peer(nodeID, address)
	p.Connected = connected
	if connected {
		p.LastSeen = t.nowMs()
		t.adoptUnnamedLocked(nodeID, address, p)
		t.reportFailingLocked()
	}
	n := 0
	for _, q := range t.peers {
		if q.Connected {
			n++
		}
	}
	t.opts.Observer.PeersConnected(n)
}

// RecordSyncSuccess records a completed sync round with a peer that moved
// docs documents and bytes bytes (both directions).
func (t *StatusTracker) RecordSyncSuccess(nodeID, address string, docs, bytes int64) {
	t.RecordSyncRound(nodeID, address, docs, bytes, nil)
}

// RecordSyncRound records a completed sync round with a peer, like
// RecordSyncSuccess; pushRefused, when not nil, says the peer did not apply
// what we pushed, so the peer still counts as one we cannot replicate to.
func (t *StatusTracker) RecordSyncRound(nodeID, address string, docs, bytes int64, pushRefused error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.nowMs()
	t.lastSync = now
	t.docs += docs
	t.bytes += bytes
	t.opts.Observer.SyncRound(peerLabel(nodeID, address), true)
	if nodeID != "" {
		p := t.peer(nodeID, address)
		t.adoptUnnamedLocked(nodeID, address, p)
		p.SuccessfulSyncs++
		p.LastSeen = now
		if pushRefused != nil {
			t.failingLocked(p, pushRefused)
		} else {
			p.ConsecutiveFailures, p.FailingSince, p.LastError, p.Unreachable = 0, 0, "", false
		}
		t.reportFailingLocked()
	}
}

// adoptUnnamedLocked folds the failure run recorded under address while
// the peer's node id was unknown into p, the record of nodeID, and drops
// that record.
func (t *StatusTracker) adoptUnnamedLocked(nodeID, address string, p *ports.PeerStatus) {
	u := t.peers[address]
	if nodeID == "" || address == "" || u == nil || u.NodeID != "" || u == p {
		return
	}
	p.ConsecutiveFailures += u.ConsecutiveFailures
	if u.FailingSince != 0 && (p.FailingSince == 0 || u.FailingSince < p.FailingSince) {
		p.FailingSince = u.FailingSince
	}
	if p.LastError == "" {
		p.LastError = u.LastError
	}
	delete(t.peers, address)
}

// reportFailingLocked tells the metrics how many peers are failing.
func (t *StatusTracker) reportFailingLocked() {
	n := 0
	for _, p := range t.peers {
		if p.ConsecutiveFailures > 0 {
			n++
		}
	}
	t.opts.Replication.PeersFailing(n)
}

// failingLocked notes one more failed attempt to replicate with p.
func (t *StatusTracker) failingLocked(p *ports.PeerStatus, err error) {
	p.ConsecutiveFailures++
	if p.FailingSince == 0 {
		p.FailingSince = t.nowMs()
	}
	if err != nil {
		p.LastError = domain.Message(err)
		code := domain.CodeOf(err)
		p.Unreachable = code == domain.CodeNetwork || code == domain.CodeTimeout
	}
}

// RecordRefused counts n entries from peer that we refused for cause.
func (t *StatusTracker) RecordRefused(peer, cause string, n int) {
	if n <= 0 {
		return
	}
	t.opts.Replication.EntriesRefused(cause, n)
	if peer == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peer(peer, "")
	if p.Refused == nil {
		p.Refused = map[string]int64{}
	}
	p.Refused[cause] += int64(n)
	p.LastRefused = t.nowMs()
}

// RecordPushRefused counts a push of ours that a peer did not fully apply
// (the round's outcome, RecordSyncRound, records it against the peer).
func (t *StatusTracker) RecordPushRefused() {
	t.opts.Replication.PushRefused()
}

// RecordTransfer counts bytes received from and sent to peers (for the
// metrics; RecordSyncSuccess keeps the status totals).
func (t *StatusTracker) RecordTransfer(bytesIn, bytesOut int64) {
	t.opts.Observer.BytesIn(int(bytesIn))
	t.opts.Observer.BytesOut(int(bytesOut))
}

// RecordSyncFailure records a failed sync round with a peer, and the error.
func (t *StatusTracker) RecordSyncFailure(nodeID, address string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	peer := peerLabel(nodeID, address)
	if peer != "" {
		// A peer never reached has no node id yet: its record is keyed by
		// address until it has one, so health can name it.
		p := t.peers[peer]
		if p == nil {
			p = &ports.PeerStatus{NodeID: nodeID}
			t.peers[peer] = p
		}
		p.Address = address
		t.adoptUnnamedLocked(nodeID, address, p)
		p.FailedSyncs++
		t.failingLocked(p, err)
		t.reportFailingLocked()
	}
	t.opts.Observer.SyncRound(peer, false)
	t.recordLocked(peer, err)
}

// peerLabel names a peer by node id, or by address before its id is known.
func peerLabel(nodeID, address string) string {
	if nodeID == "" {
		return address
	}
	return nodeID
}

// RecordError remembers err (with the peer involved, if any).
func (t *StatusTracker) RecordError(peer string, err error) {
	if err == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recordLocked(peer, err)
}

func (t *StatusTracker) recordLocked(peer string, err error) {
	if err == nil {
		err = errors.New("unknown error")
	}
	rec := ports.ErrorRecord{Time: t.nowMs(), Code: string(domain.CodeOf(err)), Message: domain.Message(err), Peer: peer}
	if len(t.errs) < MaxRecentErrors {
		t.errs = append(t.errs, rec)
		return
	}
	t.errs[t.errNext] = rec
	t.errNext = (t.errNext + 1) % MaxRecentErrors
}

// SetOnline records whether at least one peer is reachable.
func (t *StatusTracker) SetOnline(online bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.online = online
}

// Online reports the online flag.
func (t *StatusTracker) Online() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.online
}

// LastSync is the Unix ms of the last successful sync, 0 = never.
func (t *StatusTracker) LastSync() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastSync
}

// ConnectedPeers counts peers with an open session.
func (t *StatusTracker) ConnectedPeers() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.peers {
		if p.Connected {
			n++
		}
	}
	return n
}

// RecentErrors returns the remembered errors, newest first.
func (t *StatusTracker) RecentErrors() []ports.ErrorRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.recentLocked()
}

func (t *StatusTracker) recentLocked() []ports.ErrorRecord {
	out := make([]ports.ErrorRecord, 0, len(t.errs))
	// Oldest is at errNext once the ring is full (errNext is 0 before).
	for i := range t.errs {
		out = append(out, t.errs[(t.errNext+i)%len(t.errs)])
	}
	slices.Reverse(out)
	return out
}

// Peers returns the known peers sorted by node id.
func (t *StatusTracker) Peers() []ports.PeerStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peersLocked()
}

func (t *StatusTracker) peersLocked() []ports.PeerStatus {
	var out []ports.PeerStatus
	if t.opts.Discovery == nil {
		out = make([]ports.PeerStatus, 0, len(t.peers))
		for _, p := range t.peers {
			out = append(out, copyPeerStatus(p))
		}
	} else {
		out = t.knownPeersLocked(t.opts.Discovery.Peers())
	}
	slices.SortFunc(out, func(a, b ports.PeerStatus) int {
		if c := strings.Compare(a.NodeID, b.NodeID); c != 0 {
			return c
		}
		return strings.Compare(a.Address, b.Address)
	})
	return out
}

// knownPeersLocked lists the peers discovery knows now (a discovered peer
// that went quiet has expired there, so it is gone here too), each with what
// the tracker recorded of it, plus peers connected right now that discovery
// does not list (for example ones that dialled us).
func (t *StatusTracker) knownPeersLocked(known []domain.Peer) []ports.PeerStatus {
	byAddr := make(map[string]*ports.PeerStatus, len(t.peers))
	for _, p := range t.peers {
		if p.Address != "" {
			byAddr[p.Address] = p
		}
	}
	used := make(map[*ports.PeerStatus]bool, len(known))
	out := make([]ports.PeerStatus, 0, len(known))
	for _, d := range known {
		ps := ports.PeerStatus{NodeID: d.NodeID, Address: d.Address, Source: string(d.Source), LastSeen: d.LastSeen}
		rec := t.peers[d.NodeID]
		if rec == nil || d.NodeID == "" {
			rec = byAddr[d.Address]
		}
		if rec != nil {
			used[rec] = true
			if ps.NodeID == "" {
				ps.NodeID = rec.NodeID
			}
			ps.Connected = rec.Connected
			ps.SuccessfulSyncs = rec.SuccessfulSyncs
			ps.FailedSyncs = rec.FailedSyncs
			ps.LastSeen = max(ps.LastSeen, rec.LastSeen)
			ps.Refused, ps.LastRefused = maps.Clone(rec.Refused), rec.LastRefused
			ps.ConsecutiveFailures, ps.FailingSince, ps.LastError = rec.ConsecutiveFailures, rec.FailingSince, rec.LastError
		}
		out = append(out, ps)
	}
	for _, p := range t.peers {
		if !used[p] && p.Connected {
			out = append(out, copyPeerStatus(p))
		}
	}
	return out
}

// refusedPeers lists every peer with refused entries, known to discovery
// or not (a peer that only pushes to us may be neither static nor
// discovered): old refusals age out of the health report by LastRefused.
func (t *StatusTracker) refusedPeers() []ports.PeerStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []ports.PeerStatus
	for _, p := range t.peers {
		if len(p.Refused) > 0 {
			out = append(out, copyPeerStatus(p))
		}
	}
	slices.SortFunc(out, func(a, b ports.PeerStatus) int { return strings.Compare(a.NodeID, b.NodeID) })
	return out
}

// copyPeerStatus copies p, its map included, for a caller outside mu.
func copyPeerStatus(p *ports.PeerStatus) ports.PeerStatus {
	c := *p
	c.Refused = maps.Clone(p.Refused)
	return c
}

// Snapshot returns the whole status (GET /v1/status). The queue length and
// cache statistics are read from the injected functions; a queue read error
// is recorded and reported as length 0 rather than failing the status.
func (t *StatusTracker) Snapshot(ctx context.Context) ports.SyncStatus {
	queueLen := 0
	var queueErr error
	if t.opts.QueueLen != nil {
		queueLen, queueErr = t.opts.QueueLen(ctx)
	}
	var cs ports.CacheStats
	if t.opts.CacheStats != nil {
		cs = t.opts.CacheStats()
	}
	var storage ports.StorageReport
	if t.opts.Storage != nil {
		storage = t.opts.Storage(ctx)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if queueErr != nil {
		t.recordLocked("", queueErr)
	}
	return ports.SyncStatus{
		NodeID:             t.nodeID,
		Online:             t.online,
		LastSuccessfulSync: t.lastSync,
		Peers:              t.peersLocked(),
		RecentErrors:       t.recentLocked(),
		DocumentsSynced:    t.docs,
		BytesSynced:        t.bytes,
		OfflineQueueLen:    queueLen,
		Cache:              CacheReport(cs),
		Storage:            storage,
	}
}

// CacheReport turns cache counters into their user-facing form.
func CacheReport(s ports.CacheStats) ports.CacheReport {
	return ports.CacheReport{
		Hits: s.Hits, Misses: s.Misses, Evictions: s.Evictions, Entries: s.Entries,
		Bytes: s.Bytes, MaxBytes: s.MaxBytes, HitRate: s.HitRate(),
	}
}
