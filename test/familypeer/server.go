package familypeer

import (
	"net"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// maxFrame is the frame cap of a stand-in: the family's nodes have none.
const maxFrame = 1 << 30

func (p *Peer) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c, true) {
			continue
		}
		p.wg.Go(func() {
			defer p.track(c, false)
			defer c.Close()
			p.serve(protocol.NewChannel(c, maxFrame))
		})
	}
}

// serve answers one connection until it closes.
func (p *Peer) serve(ch *protocol.Channel) {
	t, payload, err := ch.Recv()
	if err != nil || t != protocol.HandshakeReq {
		return
	}
	var hs pb.HandshakeRequest
	if proto.Unmarshal(payload, &hs) != nil {
		return
	}
	ok := hs.GetAuthToken() == p.opts.Token
	if ch.Send(protocol.HandshakeRes, &pb.HandshakeResponse{NodeId: p.opts.NodeID, Accepted: ok,
		InterestingCollections: p.opts.Interests}) != nil || !ok {
		return
	}
	for {
		t, payload, err := ch.Recv()
		if err != nil {
			return
		}
		if err := p.answer(ch, t, payload); err != nil {
			return
		}
	}
}

// answer answers one request as this flavor does; the TypeScript node
// leaves what it does not know unanswered (the requester times out).
func (p *Peer) answer(ch *protocol.Channel, t protocol.MsgType, payload []byte) error {
	ts := p.opts.Flavor == TypeScript
	switch t {
	case protocol.PullChangesReq:
		var req pb.PullChangesRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return err
		}
		since := sinceOf(&req)
		entries := p.after(since, req.GetCollections()) // one answer, unpaged
		p.Stats.Served.Add(int64(len(entries)))
		return ch.Send(protocol.ChangeSetRes, &pb.ChangeSetResponse{Entries: p.toProto(entries)})
	case protocol.PushChangesReq:
		if p.opts.NoPushes {
			p.Stats.Unanswered.Add(1)
			return nil
		}
		var req pb.PushChangesRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return err
		}
		p.mu.Lock()
		for _, e := range p.fromProto(req.GetEntries()) {
			p.applyLocked(e)
		}
		p.mu.Unlock()
		p.Stats.PushesTaken.Add(1)
		return ch.Send(protocol.AckRes, &pb.AckResponse{Success: true})
	case protocol.GetClockReq, protocol.GetVectorClockReq, protocol.GetChainRangeReq, protocol.GetSnapshotReq:
		if ts {
			p.Stats.Unanswered.Add(1)
			return nil
		}
	}
	switch t {
	case protocol.GetClockReq:
		p.mu.Lock()
		var newest pb.ClockResponse
		for _, e := range p.oplog {
			if e.Stamp.Wall > newest.HlcWall || e.Stamp.Wall == newest.HlcWall && e.Stamp.Logical > newest.HlcLogic {
				newest = pb.ClockResponse{HlcWall: e.Stamp.Wall, HlcLogic: e.Stamp.Logical, HlcNode: e.Stamp.Node}
			}
		}
		p.mu.Unlock()
		return ch.Send(protocol.ClockRes, &newest)
	case protocol.GetVectorClockReq:
		return ch.Send(protocol.VectorClockRes, &pb.VectorClockResponse{Entries: protocol.VectorClockToProto(p.vectorClock())})
	case protocol.GetChainRangeReq:
		var req pb.GetChainRangeRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return err
		}
		// BLite: anything but an empty range needs a snapshot.
		return ch.Send(protocol.ChainRangeRes, &pb.ChainRangeResponse{SnapshotRequired: req.GetStartHash() != req.GetEndHash()})
	case protocol.GetSnapshotReq:
		data, err := p.snapshotDto()
		if err != nil {
			return err
		}
		for len(data) > 0 {
			n := min(len(data), protocol.SnapshotChunkBytes)
			if err := ch.Send(protocol.SnapshotChunkMsg, &pb.SnapshotChunk{Data: data[:n]}); err != nil {
				return err
			}
			data = data[n:]
		}
		return ch.Send(protocol.SnapshotChunkMsg, &pb.SnapshotChunk{IsLast: true})
	}
	return net.ErrClosed // anything else: the family closes the connection
}

// sinceOf is a pull's start; since_node is ignored, as 2.3.8 does.
func sinceOf(req *pb.PullChangesRequest) domain.Timestamp {
	return domain.Timestamp{Wall: req.GetSinceWall(), Logical: req.GetSinceLogic()}
}
