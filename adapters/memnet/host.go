package memnet

import (
	"sync"
	"sync/atomic"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Mode is the protocol a host answers with.
type Mode int32

const (
	// ModeV5 answers every request.
	ModeV5 Mode = iota
	// ModeV4 answers as a v4 node: a vector-clock request closes the
	// session, as an unknown message type makes a v4 peer do.
	ModeV4
	// ModePullOnly also closes the session on a clock request: the peer
	// only serves pulls and takes pushes.
	ModePullOnly
)

// Host is a node's serving side on the network: the handler that answers
// its sessions, its fault switches, and counts of what it served.
type Host struct {
	id, addr string
	handler  ports.SyncHandler
	net      *Network

	mode   atomic.Int32
	drop   atomic.Pointer[func(domain.Entry) bool]
	reject atomic.Bool
	pulls  atomic.Int64
	pushes atomic.Int64
	ranges atomic.Int64

	// mu orders Close after the requests that entered before it.
	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
}

// ID is the node id the host announces to the sessions it answers.
func (h *Host) ID() string { return h.id }

// Addr is where the host listens.
func (h *Host) Addr() string { return h.addr }

// SetMode makes the host answer as a v5, v4-only or pull-only node.
func (h *Host) SetMode(m Mode) { h.mode.Store(int32(m)) }

// DropFromPulls makes the host's pull pages lose the entries drop matches,
// as entries lost on the way would be (nil: lose none).
func (h *Host) DropFromPulls(drop func(domain.Entry) bool) {
	if drop == nil {
		h.drop.Store(nil)
		return
	}
	h.drop.Store(&drop)
}

// RejectDropped makes a page that lost entries come with a SYNC_ERROR
// beside the rest, as a TCP session reports entries that do not convert.
func (h *Host) RejectDropped(reject bool) { h.reject.Store(reject) }

// Pulls is the number of PullChanges requests the host served.
func (h *Host) Pulls() int64 { return h.pulls.Load() }

// Pushes is the number of PushChanges requests the host received.
func (h *Host) Pushes() int64 { return h.pushes.Load() }

// ChainRanges is the number of GetChainRange requests the host served.
func (h *Host) ChainRanges() int64 { return h.ranges.Load() }

// Close takes the host off the network, as a stopped server: dials to its
// address fail, and so do its open sessions. It returns once the requests
// already in its handler have returned, so the caller may then close what
// the handler uses.
func (h *Host) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.net.remove(h)
	h.inflight.Wait()
}

// enter admits a request into the handler unless the host is closed; the
// caller calls leave when the handler returns.
func (h *Host) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.inflight.Add(1)
	return true
}

func (h *Host) leave() { h.inflight.Done() }

// answers reports whether the host answers a request of kind at its mode.
func (h *Host) answers(kind request) bool {
	switch Mode(h.mode.Load()) {
	case ModeV4:
		return kind != reqVectorClock
	case ModePullOnly:
		return kind != reqVectorClock && kind != reqClock
	}
	return true
}

// filterPull applies DropFromPulls and RejectDropped to a page.
func (h *Host) filterPull(op string, es []domain.Entry) ([]domain.Entry, error) {
	drop := h.drop.Load()
	if drop == nil {
		return es, nil
	}
	kept := es[:0:0]
	for _, e := range es {
		if !(*drop)(e) {
			kept = append(kept, e)
		}
	}
	if lost := len(es) - len(kept); lost > 0 && h.reject.Load() {
		return kept, &ports.UnreadableEntriesError{Resume: es[len(es)-1].Stamp,
			Err: domain.Errorf(domain.CodeSync, op, "%d of %d received entries rejected", lost, len(es))}
	}
	return kept, nil
}
