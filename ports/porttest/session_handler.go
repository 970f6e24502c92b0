package porttest

import (
	"context"
	"strconv"
	"sync"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// scriptedHandler is the serving side of the session suite: it answers
// with fixed data, fails when told to, and records what it was asked. Every
// field it writes while answering is guarded by mu, since a network adapter
// calls it from its own goroutines.
type scriptedHandler struct {
	clock    domain.Timestamp
	vc       domain.VectorClock
	page     []domain.Entry // PullChanges answer when since is zero; later pages are empty
	chain    []domain.Entry
	snapshot domain.Snapshot // GetSnapshot's answer, larger than a network chunk
	// pushSnapshot is PushChanges' snapshotRequired answer.
	pushSnapshot bool
	// fail makes the named request (a request* constant) fail.
	fail string
	// block, when set, makes GetClock wait for it to close or its context
	// to end; entered is closed when it starts waiting.
	block, entered chan struct{}

	mu     sync.Mutex
	calls  map[string]int
	peers  map[string][]ports.PeerInfo
	pulls  []ports.PullRequest
	pushed []domain.Entry
	ranges [][2]string
}

// Request names, for fail and the records.
const (
	requestClock       = "GetClock"
	requestVectorClock = "GetVectorClock"
	requestPull        = "PullChanges"
	requestPush        = "PushChanges"
	requestChainRange  = "GetChainRange"
	requestSnapshot    = "GetSnapshot"
)

// errHandlerFailed carries a code of its own, which must not cross the wire.
var errHandlerFailed = domain.Errorf(domain.CodePersistence, "porttest.handler", "the store failed")

func newScriptedHandler() *scriptedHandler {
	return &scriptedHandler{
		clock: domain.Timestamp{Wall: baseWall + 123, Logical: 7, Node: "author-a"},
		vc: domain.VectorClock{
			"author-a": {Wall: baseWall + 123, Logical: 7, Node: "author-a"},
			"author-b": {Wall: baseWall + 1}, // no node: the wire names the author once
		},
		page:     sessionEntries("author-a", 4),
		chain:    sessionEntries("author-b", 2),
		snapshot: sessionSnapshot(3000),
		calls:    map[string]int{},
		peers:    map[string][]ports.PeerInfo{},
	}
}

// sessionEntries is a chain of n entries by author, the last a delete, each
// with a local sequence number the wire must not carry.
func sessionEntries(author string, n int) []domain.Entry {
	out := make([]domain.Entry, n)
	prev := ""
	for i := range out {
		e := domain.Entry{Collection: "users", Key: "u" + strconv.Itoa(i), Op: domain.OpPut,
			Data:  []byte(`{"i":` + strconv.Itoa(i) + `}`),
			Stamp: domain.Timestamp{Wall: baseWall + int64(i), Node: author}, Seq: int64(100 + i)}
		if i == n-1 {
			e.Op, e.Data = domain.OpDelete, nil
		}
		e.Seal(prev)
		prev = e.Hash
		out[i] = e
	}
	return out
}

// sessionSnapshot holds n documents, more bytes than one network chunk, and a
// vector clock whose stamps name their author as the wire restores them.
func sessionSnapshot(n int) domain.Snapshot {
	sn := domain.Snapshot{Documents: make([]domain.Document, n),
		Heads:       map[string]string{"author-a": "head-a"},
		VectorClock: domain.VectorClock{"author-a": {Wall: baseWall + 9, Logical: 2, Node: "author-a"}}}
	for i := range sn.Documents {
		sn.Documents[i] = domain.Document{Collection: "users", Key: "u" + strconv.Itoa(i),
			Data:  []byte(`{"i":` + strconv.Itoa(i) + `,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`),
			Stamp: domain.Timestamp{Wall: baseWall + int64(i), Node: "author-a"}}
	}
	sn.Documents[n-1].Deleted, sn.Documents[n-1].Data = true, nil
	return sn
}

// enter records a request and reports whether it must fail.
func (h *scriptedHandler) enter(name string, peer ports.PeerInfo) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls[name]++
	h.peers[name] = append(h.peers[name], peer)
	if h.fail == name {
		return errHandlerFailed
	}
	return nil
}

func (h *scriptedHandler) callCount(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[name]
}

// peerSeen is what the handler saw of the peer on the first request named.
func (h *scriptedHandler) peerSeen(name string, i int) ports.PeerInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peers[name][i]
}

func (h *scriptedHandler) firstPull() ports.PullRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pulls[0]
}

// pullSince is the first pull the handler got from since (a server may
// also read pages ahead).
func (h *scriptedHandler) pullSince(since domain.Timestamp) ports.PullRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.pulls {
		if p.Since == since {
			return p
		}
	}
	return ports.PullRequest{}
}

func (h *scriptedHandler) lastPeer(name string) ports.PeerInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peers[name][len(h.peers[name])-1]
}

func (h *scriptedHandler) pushedEntries() []domain.Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]domain.Entry(nil), h.pushed...)
}

func (h *scriptedHandler) rangesAsked() [][2]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][2]string(nil), h.ranges...)
}

func (h *scriptedHandler) GetClock(ctx context.Context, peer ports.PeerInfo) (domain.Timestamp, error) {
	if err := h.enter(requestClock, peer); err != nil {
		return domain.Timestamp{}, err
	}
	if h.block != nil {
		close(h.entered)
		select {
		case <-h.block:
		case <-ctx.Done():
			return domain.Timestamp{}, ctx.Err()
		}
	}
	return h.clock, nil
}

func (h *scriptedHandler) GetVectorClock(_ context.Context, peer ports.PeerInfo) (domain.VectorClock, error) {
	if err := h.enter(requestVectorClock, peer); err != nil {
		return nil, err
	}
	return h.vc.Clone(), nil
}

func (h *scriptedHandler) PullChanges(_ context.Context, peer ports.PeerInfo, req ports.PullRequest) ([]domain.Entry, error) {
	if err := h.enter(requestPull, peer); err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.pulls = append(h.pulls, req)
	h.mu.Unlock()
	if req.Since != (domain.Timestamp{}) {
		return nil, nil
	}
	return h.page, nil
}

func (h *scriptedHandler) PushChanges(_ context.Context, peer ports.PeerInfo, entries []domain.Entry) (bool, error) {
	if err := h.enter(requestPush, peer); err != nil {
		return false, err
	}
	h.mu.Lock()
	h.pushed = append(h.pushed, entries...)
	h.mu.Unlock()
	return h.pushSnapshot, nil
}

func (h *scriptedHandler) GetChainRange(_ context.Context, peer ports.PeerInfo, start, end string) ([]domain.Entry, bool, error) {
	if err := h.enter(requestChainRange, peer); err != nil {
		return nil, false, err
	}
	h.mu.Lock()
	h.ranges = append(h.ranges, [2]string{start, end})
	h.mu.Unlock()
	return h.chain, start == "pruned", nil
}

func (h *scriptedHandler) GetSnapshot(_ context.Context, peer ports.PeerInfo) (domain.Snapshot, error) {
	if err := h.enter(requestSnapshot, peer); err != nil {
		return domain.Snapshot{}, err
	}
	return h.snapshot, nil
}
