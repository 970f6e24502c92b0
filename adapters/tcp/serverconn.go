package tcp

import (
	"errors"
	"net"
	"slices"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

const compressionBrotli = "brotli"

// serverConn is one inbound connection, owned by its serve goroutine.
type serverConn struct {
	s    *Server
	conn net.Conn
	ch   *protocol.Channel
	src  string // the remote IP, the key of per-source limits
	peer ports.PeerInfo
	log  *zap.Logger
	// spelling is how a family peer spelled operations in its pushes, once
	// spelled (family.go).
	spelling protocol.OpSpelling
	spelled  bool
	// ahead is the next PullChanges page, read while the current one is
	// encoded, sent and applied by the peer (nil: none in flight).
	ahead *pullAhead
}

// pullAhead is a page read in advance for the PullChanges request a peer
// paging through our oplog sends next: since = the last stamp we sent. Its
// goroutine belongs to the connection's serve goroutine, which waits for it
// before taking its result or returning.
type pullAhead struct {
	peer    ports.PeerInfo
	req     ports.PullRequest
	done    chan struct{}
	entries []domain.Entry
	err     error
}

// errClose ends a connection after a request we will not answer; the reason
// has already been logged.
var errClose = errors.New("closing connection")

func (s *Server) serve(conn net.Conn) {
	defer s.release(conn)
	var c *serverConn
	defer func() {
		if c != nil {
			c.dropAhead()
		}
	}()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c = &serverConn{
		s:    s,
		conn: conn,
		// Until the handshake proves membership: small frames, nothing inflated.
		ch:   protocol.NewChannel(conn, s.opts.MaxFrameBytes, protocol.WithPreAuthLimit(0)),
		src:  sourceIP(conn),
		peer: ports.PeerInfo{Address: conn.RemoteAddr().String()},
		log:  s.logger.With(zap.String("remote", conn.RemoteAddr().String())),
	}
	if !c.handshake() {
		return
	}
	for {
		// The whole next request must arrive before the idle deadline: a
		// peer trickling one byte at a time is cut like a silent one.
		if err := conn.SetReadDeadline(time.Now().Add(c.idleTimeout())); err != nil {
			return
		}
		// Checked after setting the deadline: Stop sets the flag and then
		// the deadline to now, so one of the two always wins.
		if s.stopping.Load() {
			return
		}
		t, payload, err := c.ch.Recv()
		if err != nil {
			c.logRecvError(err)
			return
		}
		if err := c.dispatch(t, payload); err != nil {
			if !errors.Is(err, errClose) {
				c.log.Warn("request failed; closing connection", zap.Int("type", int(t)), zap.Error(err))
			}
			return
		}
	}
}

// idleTimeout is how long the peer may take to send its next request.
func (c *serverConn) idleTimeout() time.Duration {
	if c.peer.Legacy {
		return max(c.s.opts.IdleTimeout, c.s.opts.LegacyIdleTimeout)
	}
	return c.s.opts.IdleTimeout
}

func (c *serverConn) logRecvError(err error) {
	switch {
	case c.s.stopping.Load():
	case isClosedConn(err):
		c.log.Debug("peer closed the connection", zap.String("peer", c.peer.NodeID))
	case isTimeout(err):
		c.log.Info("peer idle or too slow; connection cut", zap.String("peer", c.peer.NodeID), zap.Error(err))
	default:
		c.log.Warn("bad frame; closing connection", zap.String("peer", c.peer.NodeID), zap.Error(err))
	}
}

func (c *serverConn) send(t protocol.MsgType, m proto.Message) error {
	if err := c.writeDeadline(); err != nil {
		return err
	}
	return c.ch.Send(t, m)
}

// writeDeadline bounds the next write to the peer by WriteTimeout.
func (c *serverConn) writeDeadline() error {
	return c.conn.SetWriteDeadline(time.Now().Add(c.s.opts.WriteTimeout))
}

// dispatch answers one request. A non-nil error closes the connection: the
// protocol has no error response, and closing beats a peer waiting for its
// timeout.
func (c *serverConn) dispatch(t protocol.MsgType, payload []byte) error {
	ctx, h := c.s.ctx, c.s.handler
	if t != protocol.PullChangesReq {
		// A page read ahead answers only the request right after it: any
		// other one (a push above all) may change what that page holds.
		c.dropAhead()
	}
	switch t {
	case protocol.GetClockReq:
		c.peer.AskedClock = true
		ts, err := h.GetClock(ctx, c.peer)
		if err != nil {
			return err
		}
		return c.send(protocol.ClockRes, &pb.ClockResponse{HlcWall: ts.Wall, HlcLogic: ts.Logical, HlcNode: ts.Node})

	case protocol.GetVectorClockReq:
		c.peer.AskedClock = true
		vc, err := h.GetVectorClock(ctx, c.peer)
		if err != nil {
			return err
		}
		return c.send(protocol.VectorClockRes, &pb.VectorClockResponse{Entries: protocol.VectorClockToProto(vc)})

	case protocol.PullChangesReq:
		var req pb.PullChangesRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return err
		}
		pr := ports.PullRequest{
			Since:       domain.Timestamp{Wall: req.GetSinceWall(), Logical: req.GetSinceLogic(), Node: req.GetSinceNode()},
			Collections: req.GetCollections(),
		}
		entries, ok := c.takeAhead(pr)
		if !ok {
			var err error
			if entries, err = h.PullChanges(ctx, c.peer, pr); err != nil {
				return err
			}
		}
		if len(entries) > 0 {
			c.readAhead(ports.PullRequest{Since: entries[len(entries)-1].Stamp, Collections: pr.Collections})
		}
		return c.send(protocol.ChangeSetRes, &pb.ChangeSetResponse{Entries: protocol.EntriesToProtoSpelled(entries, c.peerSpelling())})

	case protocol.PushChangesReq:
		var req pb.PushChangesRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return err
		}
		if !c.spelled {
			ops := make([]string, len(req.GetEntries()))
			for i, e := range req.GetEntries() {
				ops[i] = e.GetOperation()
			}
			c.spelling, c.spelled = protocol.SpellingOf(ops...)
		}
		entries, bad := entriesFromProto(req.GetEntries())
		if rec, ok := h.(RejectionRecorder); ok && len(bad) > 0 {
			rec.RecordRejected(c.peer, bad) // it logs them, bounded per peer
		} else if len(bad) > 0 {
			c.log.Warn("rejected pushed entries", zap.Int("rejected", len(bad)), zap.Error(bad[0]))
		}
		snapshot, err := h.PushChanges(ctx, c.peer, entries)
		if err != nil && !errors.Is(err, ports.ErrEntriesRefused) {
			// Keep the connection: the peer learns from success=false and
			// may try again later. Refusals are the handler's to report.
			c.log.Warn("applying pushed entries failed", zap.Int("entries", len(entries)), zap.Error(err))
		}
		return c.send(protocol.AckRes, &pb.AckResponse{Success: err == nil && len(bad) == 0, SnapshotRequired: snapshot})

	case protocol.GetChainRangeReq:
		var req pb.GetChainRangeRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return err
		}
		entries, snapshot, err := h.GetChainRange(ctx, c.peer, req.GetStartHash(), req.GetEndHash())
		if err != nil {
			return err
		}
		return c.send(protocol.ChainRangeRes, &pb.ChainRangeResponse{Entries: protocol.EntriesToProtoSpelled(entries, c.peerSpelling()),
			SnapshotRequired: snapshot})

	case protocol.GetSnapshotReq:
		var req pb.GetSnapshotRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return err
		}
		if req.GetFormat() == protocol.SnapshotFormatFile {
			return c.streamSnapshotFile()
		}
		return c.streamSnapshot()

	default:
		c.log.Warn("unexpected message type; closing connection", zap.Int("type", int(t)))
		return errClose
	}
}

// readAhead starts reading the page a peer paging through our oplog asks
// for next, so that reading it overlaps encoding and sending this one and
// the peer's work on it (a bootstrap streams without waiting on our reads).
// If the peer asks something else, the page is dropped: one read wasted.
func (c *serverConn) readAhead(req ports.PullRequest) {
	a := &pullAhead{peer: c.peer, req: req, done: make(chan struct{})}
	c.ahead = a
	go func() {
		defer close(a.done)
		a.entries, a.err = c.s.handler.PullChanges(c.s.ctx, a.peer, a.req)
	}()
}

// takeAhead returns the page read ahead if it answers req from the same
// peer state, after waiting for it; ok is false otherwise (and on a failed
// read, which the caller then repeats and reports).
func (c *serverConn) takeAhead(req ports.PullRequest) (entries []domain.Entry, ok bool) {
	a := c.ahead
	if a == nil {
		return nil, false
	}
	c.ahead = nil
	<-a.done
	if a.err != nil || a.req.Since != req.Since || !slices.Equal(a.req.Collections, req.Collections) ||
		a.peer.NodeID != c.peer.NodeID || a.peer.AskedClock != c.peer.AskedClock {
		return nil, false
	}
	return a.entries, true
}

// dropAhead waits for a page read ahead and discards it.
func (c *serverConn) dropAhead() {
	if a := c.ahead; a != nil {
		c.ahead = nil
		<-a.done
	}
}

// streamSnapshot sends the handler's snapshot, encoded, as SnapshotChunk
// frames of protocol.SnapshotChunkBytes, the last one (always sent, even
// empty) flagged is_last.
func (c *serverConn) streamSnapshot() error {
	release, ok := c.snapshotSlot()
	if !ok {
		return errClose
	}
	defer release()
	sn, err := c.s.handler.GetSnapshot(c.s.ctx, c.peer)
	if err != nil {
		// There is no error answer to a snapshot request; closing tells the peer.
		return err
	}
	var data []byte
	if c.peer.Legacy {
		// The family's nodes read only their own SnapshotDto.
		data, err = protocol.EncodeSnapshotDto(sn, c.s.opts.Trust.Identity.NodeID, time.Now())
	} else {
		data, err = protocol.EncodeSnapshot(sn)
	}
	if err != nil {
		return err
	}
	// To a family node, as it sends them: every byte in chunks, then an
	// empty is_last chunk.
	for len(data) > protocol.SnapshotChunkBytes || c.peer.Legacy && len(data) > 0 {
		n := min(len(data), protocol.SnapshotChunkBytes)
		if err := c.send(protocol.SnapshotChunkMsg, &pb.SnapshotChunk{Data: data[:n]}); err != nil {
			return err
		}
		data = data[n:]
	}
	return c.send(protocol.SnapshotChunkMsg, &pb.SnapshotChunk{Data: data, IsLast: true})
}

// snapshotSlot is the server's snapshotSlot for this connection, logging
// a refusal (the connection is then closed).
func (c *serverConn) snapshotSlot() (release func(), ok bool) {
	release, ok = c.s.snapshotSlot()
	if !ok {
		c.log.Warn("no snapshot slot free within the write timeout; closing connection",
			zap.Int("max_concurrent", c.s.opts.MaxConcurrentSnapshots))
	}
	return release, ok
}

// snapshotSlot waits up to WriteTimeout for one of the
// MaxConcurrentSnapshots slots: every snapshot served holds the whole
// encoded database in memory, so their number is what bounds it.
func (s *Server) snapshotSlot() (release func(), ok bool) {
	t := time.NewTimer(s.opts.WriteTimeout)
	defer t.Stop()
	select {
	case s.snapshots <- struct{}{}:
		return func() { <-s.snapshots }, true
	case <-t.C:
	case <-s.ctx.Done():
	}
	s.snapshotsRefused.Add(1)
	return nil, false
}
