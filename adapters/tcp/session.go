package tcp

import (
	"context"
	"net"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/adapters/retry"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// conn is one handshaken client connection. It outlives the Sessions that
// borrow it from the pool; exactly one Session holds it at a time.
type conn struct {
	raw       net.Conn
	ch        *protocol.Channel
	address   string
	peerID    string
	interests []string
	legacy    bool     // reached by the v5 handshake (Trust.LegacyPeers)
	caps      []string // capabilities the peer offered (protocol/capability.go)
	broken    bool     // any error: never reuse
	lastUsed  time.Time
	closeOnce sync.Once
}

func (c *conn) close() {
	c.closeOnce.Do(func() { _ = c.raw.Close() })
}

// bound sets the connection's deadline to now+limit or ctx's deadline,
// whichever is sooner, and cuts it at once if ctx is cancelled meanwhile.
// The returned func undoes the cancellation hook.
func (c *conn) bound(ctx context.Context, limit time.Duration) (stop func()) {
	dl := time.Now().Add(limit)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.raw.SetDeadline(dl)
	unhook := context.AfterFunc(ctx, func() { _ = c.raw.SetDeadline(time.Unix(1, 0)) })
	return func() { unhook() }
}

// Session is a borrowed client connection (ports.PeerSession). Requests
// strictly alternate with responses; it is not for concurrent use. Any
// error closes the connection; Close hands a healthy one back to the
// Dialer's pool.
type Session struct {
	c *conn // nil after Close
	d *Dialer
}

var _ ports.PeerSession = (*Session)(nil)

// PeerID is the node id the peer announced in the handshake.
func (s *Session) PeerID() string {
	if s.c == nil {
		return ""
	}
	return s.c.peerID
}

// Legacy reports whether the peer was reached by the v5 handshake of the
// C#/TypeScript family (Trust.LegacyPeers): its entries carry no proof of
// their authors.
func (s *Session) Legacy() bool { return s.c != nil && s.c.legacy }

// PeerInterests are the collections the peer announced in the handshake.
func (s *Session) PeerInterests() []string {
	if s.c == nil {
		return nil
	}
	return s.c.interests
}

// Close returns a healthy connection to the pool and closes a broken one.
// Further calls are no-ops.
func (s *Session) Close() error {
	if s.c == nil {
		return nil
	}
	c := s.c
	s.c = nil
	s.d.putIdle(c)
	return nil
}

// onceRunner is the part of retry.Executor that runs a request under the
// peer's breaker and per-attempt timeout without retrying it: a failed
// request has broken the session, so only a new dial can try again.
type onceRunner interface {
	RunOnce(ctx context.Context, peer string, fn func(ctx context.Context) error) error
}

// request sends one request and reads one response frame of type want
// into resp, through the executor's breaker and timeout when it has them.
func (s *Session) request(ctx context.Context, op string, t protocol.MsgType, req proto.Message, want protocol.MsgType, resp proto.Message) error {
	payload, err := s.exchange(ctx, op, t, req, want)
	if err != nil {
		return err
	}
	return s.unmarshal(op, payload, resp)
}

// exchange sends one request and returns the payload of the response
// frame, which must be of type want.
func (s *Session) exchange(ctx context.Context, op string, t protocol.MsgType, req proto.Message, want protocol.MsgType) ([]byte, error) {
	c := s.c
	if c == nil {
		return nil, domain.Errorf(domain.CodeNetwork, op, "session is closed")
	}
	if c.broken {
		return nil, domain.Errorf(domain.CodeNetwork, op, "session to %s failed earlier; dial again", c.address)
	}
	var payload []byte
	do := func(ctx context.Context) error {
		stop := c.bound(ctx, s.d.opts.RequestTimeout)
		defer stop()
		if err := c.ch.Send(t, req); err != nil {
			return s.fail(ctx, op, err)
		}
		var err error
		payload, err = s.receivePayload(ctx, op, want)
		return err
	}
	if r, ok := s.d.exec.(onceRunner); ok {
		err := r.RunOnce(ctx, c.address, do)
		if err != nil && !c.broken {
			// The executor gave up (breaker open, attempt timeout) without
			// the exchange failing by itself: the stream may be mid-frame.
			c.broken = true
			c.close()
		}
		return payload, err
	}
	return payload, do(ctx)
}

// receive reads one response frame of type want into resp.
func (s *Session) receive(ctx context.Context, op string, want protocol.MsgType, resp proto.Message) error {
	payload, err := s.receivePayload(ctx, op, want)
	if err != nil {
		return err
	}
	return s.unmarshal(op, payload, resp)
}

// receivePayload reads one frame, which must be of type want, and returns
// its payload.
func (s *Session) receivePayload(ctx context.Context, op string, want protocol.MsgType) ([]byte, error) {
	c := s.c
	got, payload, err := c.ch.Recv()
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	if got != want {
		c.broken = true
		c.close()
		return nil, retry.Permanent(domain.Errorf(domain.CodeNetwork, op, "peer %s answered with message type %d, want %d", c.address, got, want))
	}
	return payload, nil
}

// unmarshal decodes a response; a malformed one breaks the session.
func (s *Session) unmarshal(op string, payload []byte, resp proto.Message) error {
	if err := proto.Unmarshal(payload, resp); err != nil {
		s.c.broken = true
		s.c.close()
		return retry.Permanent(domain.Errorf(domain.CodeNetwork, op, "peer %s sent a malformed response: %w", s.c.address, err))
	}
	return nil
}

// entries reads a ChangeSetResponse or ChainRangeResponse payload in place
// (protocol.DecodeEntries) and learns a family peer's spelling from it.
func (s *Session) entries(op string, payload []byte) (protocol.ChangeSet, error) {
	cs, err := protocol.DecodeEntries(payload)
	if err != nil {
		s.c.broken = true
		s.c.close()
		return cs, retry.Permanent(domain.Errorf(domain.CodeNetwork, op, "peer %s sent a malformed response: %w", s.c.address, err))
	}
	if s.c.legacy {
		s.d.learnSpelling(s.c.address, cs)
	}
	return cs, nil
}

// toProto converts entries for the peer, in its spelling of operations.
func (s *Session) toProto(entries []domain.Entry) []*pb.ProtoOplogEntry {
	if !s.c.legacy {
		return protocol.EntriesToProto(entries)
	}
	return protocol.EntriesToProtoSpelled(entries, s.d.spellingFor(s.c.address))
}

// fail marks the connection broken and gives err its domain code.
func (s *Session) fail(ctx context.Context, op string, err error) error {
	s.c.broken = true
	s.c.close()
	return transportErr(ctx, op, err)
}

// GetClock asks for the newest HLC the peer holds. A family peer that
// leaves it unanswered is the TypeScript node (family.go).
func (s *Session) GetClock(ctx context.Context) (domain.Timestamp, error) {
	var res pb.ClockResponse
	if err := s.request(ctx, "tcp.GetClock", protocol.GetClockReq, &pb.GetClockRequest{}, protocol.ClockRes, &res); err != nil {
		if s.c != nil && s.c.legacy && ctx.Err() == nil && domain.CodeOf(err) == domain.CodeTimeout {
			s.d.learn(s.c.address, func(t *familyTraits) { t.noClock = true })
		}
		return domain.Timestamp{}, err
	}
	return domain.Timestamp{Wall: res.GetHlcWall(), Logical: res.GetHlcLogic(), Node: res.GetHlcNode()}, nil
}

// PullChanges asks for entries strictly after req.Since.
func (s *Session) PullChanges(ctx context.Context, req ports.PullRequest) ([]domain.Entry, error) {
	const op = "tcp.PullChanges"
	payload, err := s.exchange(ctx, op, protocol.PullChangesReq, &pb.PullChangesRequest{
		SinceWall: req.Since.Wall, SinceLogic: req.Since.Logical, SinceNode: req.Since.Node, Collections: req.Collections,
	}, protocol.ChangeSetRes)
	if err != nil {
		return nil, err
	}
	cs, err := s.entries(op, payload)
	if err != nil {
		return nil, err
	}
	return cs.Entries, unreadable(op, cs)
}

// PushChanges sends entries; the peer acknowledges once it applied them.
func (s *Session) PushChanges(ctx context.Context, entries []domain.Entry) (bool, error) {
	const op = "tcp.PushChanges"
	if s.c == nil {
		return false, domain.Errorf(domain.CodeNetwork, op, "session is closed")
	}
	var res pb.AckResponse
	if err := s.request(ctx, op, protocol.PushChangesReq, &pb.PushChangesRequest{Entries: s.toProto(entries)}, protocol.AckRes, &res); err != nil {
		return false, err
	}
	if !res.GetSuccess() {
		return res.GetSnapshotRequired(), domain.Errorf(domain.CodeSync, op, "peer %s did not apply the %d pushed entries", s.c.address, len(entries))
	}
	return res.GetSnapshotRequired(), nil
}

// GetVectorClock asks for the newest (wall, logic) the peer holds per author.
func (s *Session) GetVectorClock(ctx context.Context) (domain.VectorClock, error) {
	var res pb.VectorClockResponse
	if err := s.request(ctx, "tcp.GetVectorClock", protocol.GetVectorClockReq, &pb.GetVectorClockRequest{}, protocol.VectorClockRes, &res); err != nil {
		return nil, err
	}
	return protocol.VectorClockFromProto(res.GetEntries()), nil
}

// GetChainRange asks for one author's entries after startHash up to endHash.
func (s *Session) GetChainRange(ctx context.Context, startHash, endHash string) ([]domain.Entry, bool, error) {
	const op = "tcp.GetChainRange"
	payload, err := s.exchange(ctx, op, protocol.GetChainRangeReq, &pb.GetChainRangeRequest{StartHash: startHash, EndHash: endHash}, protocol.ChainRangeRes)
	if err != nil {
		return nil, false, err
	}
	cs, err := s.entries(op, payload)
	if err != nil {
		return nil, false, err
	}
	return cs.Entries, cs.SnapshotRequired, unreadable(op, cs)
}

// GetSnapshot downloads and decodes the peer's snapshot.
func (s *Session) GetSnapshot(ctx context.Context) (domain.Snapshot, error) {
	data, err := s.downloadSnapshot(ctx)
	if err != nil {
		return domain.Snapshot{}, err
	}
	return protocol.DecodeSnapshot(data)
}

// downloadSnapshot reads the snapshot's chunks. Each chunk must arrive
// within RequestTimeout (a big snapshot may take longer as a whole), and the
// total is capped so a peer cannot make us buffer without end.
func (s *Session) downloadSnapshot(ctx context.Context) ([]byte, error) {
	const op = "tcp.GetSnapshot"
	var res pb.SnapshotChunk
	if err := s.request(ctx, op, protocol.GetSnapshotReq, &pb.GetSnapshotRequest{}, protocol.SnapshotChunkMsg, &res); err != nil {
		return nil, err
	}
	data := append([]byte(nil), res.GetData()...)
	for !res.GetIsLast() {
		stop := s.c.bound(ctx, s.d.opts.RequestTimeout)
		res.Reset()
		err := s.receive(ctx, op, protocol.SnapshotChunkMsg, &res)
		stop()
		if err != nil {
			return nil, err
		}
		data = append(data, res.GetData()...)
		if len(data) > maxSnapshotBytes {
			s.c.broken = true
			s.c.close()
			return nil, domain.Errorf(domain.CodeTooLarge, op, "snapshot from %s exceeds %d bytes", s.c.address, maxSnapshotBytes)
		}
	}
	return data, nil
}

// maxSnapshotBytes caps a downloaded snapshot (1 GiB).
const maxSnapshotBytes = 1 << 30

// unreadable is the error for the entries of cs that did not convert: a
// SYNC_ERROR for the whole response (the connection itself stays usable),
// a ports.UnreadableEntriesError saying where a pull resumes; nil when all
// converted.
func unreadable(op string, cs protocol.ChangeSet) error {
	if len(cs.Bad) == 0 {
		return nil
	}
	return &ports.UnreadableEntriesError{
		Resume: cs.Last,
		Err: domain.Errorf(domain.CodeSync, op, "%d of %d received entries rejected, first: %w",
			len(cs.Bad), len(cs.Bad)+len(cs.Entries), cs.Bad[0]),
	}
}
