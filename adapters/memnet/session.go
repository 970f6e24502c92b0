package memnet

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Session is one dialed connection to a host (ports.PeerSession). The
// host's handler runs on the caller's goroutine with the caller's context.
// Like a TCP session, any failed request but a refused push breaks it: the
// next request fails without reaching the host, and the caller dials again.
type Session struct {
	host   *Host
	from   string
	legacy bool // Network.SetLegacy, when dialed

	// mu guards the session's state, not the handler calls: a session is
	// not for concurrent requests, but a caller breaking that rule must not
	// corrupt it.
	mu     sync.Mutex
	peer   ports.PeerInfo // what the host's handler sees of the dialer
	closed bool
	broken bool
}

var _ ports.PeerSession = (*Session)(nil)

// request is the kind of a request, for the hosts' protocol modes.
type request int

const (
	reqClock request = iota
	reqVectorClock
	reqPull
	reqPush
	reqChainRange
	reqSnapshot
)

// PeerID is the node id of the host the session reached.
func (s *Session) PeerID() string { return s.host.id }

// Legacy reports whether the session joins a node of the C#/TypeScript
// family (Network.SetLegacy), on either side.
func (s *Session) Legacy() bool { return s.legacy }

// Close ends the session; further requests fail. Calling it again is a no-op.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// begin checks that a request of kind can reach the host and returns what
// its handler sees of the dialer. On success the request is in the host
// until the caller's host.leave.
func (s *Session) begin(ctx context.Context, op string, kind request) (ports.PeerInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	switch {
	case s.closed:
		return ports.PeerInfo{}, domain.Errorf(domain.CodeNetwork, op, "session is closed")
	case s.broken:
		return ports.PeerInfo{}, domain.Errorf(domain.CodeNetwork, op, "session to %s failed earlier; dial again", s.host.addr)
	case ctx.Err() != nil:
		err = callerErr(ctx, op)
	case s.host.net.route(s.from, s.host.addr) != s.host:
		err = domain.Errorf(domain.CodeNetwork, op, "%s is unreachable", s.host.addr)
	case !s.host.answers(kind):
		err = domain.Errorf(domain.CodeNetwork, op, "connection closed by peer %s", s.host.addr)
	case !s.host.enter():
		err = domain.Errorf(domain.CodeNetwork, op, "%s is unreachable", s.host.addr)
	}
	if err != nil {
		s.broken = true
		return ports.PeerInfo{}, err
	}
	if kind == reqClock || kind == reqVectorClock {
		s.peer.AskedClock = true
	}
	return s.peer, nil
}

// end gives a handler's failure the code a TCP session reports: the
// caller's cancellation or deadline when its context ended, else the peer
// closing the connection (its server answers no error). The handler's error
// is kept in the text only, as no code crosses the wire.
func (s *Session) end(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	s.mu.Lock()
	s.broken = true
	s.mu.Unlock()
	if ctx.Err() != nil {
		return callerErr(ctx, op)
	}
	return domain.Errorf(domain.CodeNetwork, op, "peer %s closed the connection (%v)", s.host.addr, err)
}

// callerErr reports the end of the caller's context as a TCP session does:
// a passed deadline is TIMEOUT_ERROR, a cancellation NETWORK_ERROR, both
// visible to errors.Is.
func callerErr(ctx context.Context, op string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return domain.Errorf(domain.CodeTimeout, op, "%w", context.DeadlineExceeded)
	}
	return domain.Errorf(domain.CodeNetwork, op, "%w", context.Canceled)
}

// GetClock asks the host for the newest stamp it holds.
func (s *Session) GetClock(ctx context.Context) (domain.Timestamp, error) {
	const op = "memnet.GetClock"
	peer, err := s.begin(ctx, op, reqClock)
	if err != nil {
		return domain.Timestamp{}, err
	}
	defer s.host.leave()
	ts, err := s.host.handler.GetClock(ctx, peer)
	if err := s.end(ctx, op, err); err != nil {
		return domain.Timestamp{}, err
	}
	return ts, nil
}

// GetVectorClock asks the host for the newest stamp it holds per author.
// Each stamp's node is its author, as the wire carries it.
func (s *Session) GetVectorClock(ctx context.Context) (domain.VectorClock, error) {
	const op = "memnet.GetVectorClock"
	peer, err := s.begin(ctx, op, reqVectorClock)
	if err != nil {
		return nil, err
	}
	defer s.host.leave()
	vc, err := s.host.handler.GetVectorClock(ctx, peer)
	if err := s.end(ctx, op, err); err != nil {
		return nil, err
	}
	out := make(domain.VectorClock, len(vc))
	for author, ts := range vc {
		ts.Node = author
		out[author] = ts
	}
	return out, nil
}

// PullChanges asks the host for entries strictly after req.Since.
func (s *Session) PullChanges(ctx context.Context, req ports.PullRequest) ([]domain.Entry, error) {
	const op = "memnet.PullChanges"
	peer, err := s.begin(ctx, op, reqPull)
	if err != nil {
		return nil, err
	}
	defer s.host.leave()
	req.Collections = slices.Clone(req.Collections)
	page, err := s.host.handler.PullChanges(ctx, peer, req)
	s.host.pulls.Add(1)
	if err := s.end(ctx, op, err); err != nil {
		return nil, err
	}
	kept, err := s.host.filterPull(op, page)
	return copyEntries(kept), err
}

// PushChanges hands entries to the host. A push the host's handler refuses
// is a SYNC_ERROR and leaves the session usable, as a TCP peer's
// success=false acknowledgement does.
func (s *Session) PushChanges(ctx context.Context, entries []domain.Entry) (bool, error) {
	const op = "memnet.PushChanges"
	peer, err := s.begin(ctx, op, reqPush)
	if err != nil {
		return false, err
	}
	defer s.host.leave()
	s.host.pushes.Add(1)
	snapshot, err := s.host.handler.PushChanges(ctx, peer, copyEntries(entries))
	if err != nil {
		if ctx.Err() != nil {
			return false, s.end(ctx, op, err)
		}
		return snapshot, domain.Errorf(domain.CodeSync, op, "peer %s did not apply the %d pushed entries (%v)", s.host.addr, len(entries), err)
	}
	return snapshot, nil
}

// GetChainRange asks the host for one author's entries after startHash up
// to endHash.
func (s *Session) GetChainRange(ctx context.Context, startHash, endHash string) ([]domain.Entry, bool, error) {
	const op = "memnet.GetChainRange"
	peer, err := s.begin(ctx, op, reqChainRange)
	if err != nil {
		return nil, false, err
	}
	defer s.host.leave()
	s.host.ranges.Add(1)
	entries, snapshot, err := s.host.handler.GetChainRange(ctx, peer, startHash, endHash)
	if err := s.end(ctx, op, err); err != nil {
		return nil, false, err
	}
	return copyEntries(entries), snapshot, nil
}

// copyEntries gives the receiver entries of its own, without the sender's
// local sequence numbers (the wire carries neither shared bytes nor Seq).
func copyEntries(es []domain.Entry) []domain.Entry {
	out := make([]domain.Entry, len(es))
	for i, e := range es {
		e.Data = append([]byte(nil), e.Data...)
		e.Seq = 0
		out[i] = e
	}
	return out
}
