package familypeer

import (
	"errors"
	"net"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// Run makes it a client of the node at target, a round every interval
// until Close: the C# way (one pooled connection, handshaken once) or the
// TypeScript way (pull only).
func (p *Peer) Run(target string, interval time.Duration) {
	p.wg.Go(func() {
		var ch *protocol.Channel
		var announced []string
		drop := func() {
			if ch != nil {
				p.track(ch.Conn(), false)
				_ = ch.Conn().Close()
				ch = nil
			}
		}
		defer drop()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-p.ctx.Done():
				return
			case <-tick.C:
			}
			if ch == nil {
				var err error
				if ch, announced, err = p.dial(target); err != nil {
					p.Stats.DialErrors.Add(1)
					continue
				}
			}
			if err := p.round(ch, announced); err != nil {
				p.roundFailed(err)
				drop()
				continue
			}
			p.Stats.Rounds.Add(1)
		}
	})
}

func (p *Peer) roundFailed(err error) {
	p.Stats.RoundErrors.Add(1)
	p.lastErr.Store(err.Error())
}

// LastRoundError is the last failure of its client rounds ("" if none).
func (p *Peer) LastRoundError() string {
	s, _ := p.lastErr.Load().(string)
	return s
}

func (p *Peer) dial(target string) (*protocol.Channel, []string, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(p.ctx, "tcp", target)
	if err != nil {
		return nil, nil, err
	}
	if !p.track(c, true) {
		return nil, nil, net.ErrClosed
	}
	ch := protocol.NewChannel(c, maxFrame)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	res, err := p.handshake(ch)
	_ = c.SetDeadline(time.Time{})
	if err != nil {
		p.track(c, false)
		_ = c.Close()
		return nil, nil, err
	}
	p.Stats.Handshakes.Add(1)
	return ch, res.GetInterestingCollections(), nil
}

// call is one request/response under a deadline.
func call(ch *protocol.Channel, t protocol.MsgType, req, resp proto.Message, want protocol.MsgType) error {
	_ = ch.Conn().SetDeadline(time.Now().Add(10 * time.Second))
	defer ch.Conn().SetDeadline(time.Time{})
	return ch.Call(t, req, want, resp)
}

func (p *Peer) round(ch *protocol.Channel, announced []string) error {
	if p.opts.Flavor == TypeScript {
		return p.pullNewest(ch)
	}
	var vcRes pb.VectorClockResponse
	if err := call(ch, protocol.GetVectorClockReq, &pb.GetVectorClockRequest{}, &vcRes, protocol.VectorClockRes); err != nil {
		return err
	}
	theirs := protocol.VectorClockFromProto(vcRes.GetEntries())
	mine := p.vectorClock()
	pull, push := mine.Delta(theirs)
	if len(pull) > 0 {
		since := mine[pull[0]]
		for _, a := range pull[1:] {
			if mine[a].Before(since) {
				since = mine[a]
			}
		}
		if err := p.pull(ch, since); err != nil {
			return err
		}
	}
	// BLite: a peer that announced no interests is pushed nothing.
	if len(announced) == 0 {
		return nil
	}
	for _, a := range push {
		var send []domain.Entry
		for _, e := range p.after(theirs[a], announced) {
			if e.Author() == a && e.Stamp.After(theirs[a]) {
				send = append(send, e)
			}
		}
		if len(send) == 0 {
			continue
		}
		var ack pb.AckResponse
		if err := call(ch, protocol.PushChangesReq, &pb.PushChangesRequest{Entries: p.toProto(send)}, &ack, protocol.AckRes); err != nil {
			return err
		}
		if ack.GetSnapshotRequired() {
			if err := p.fetchSnapshot(ch); err != nil {
				return err
			}
		}
	}
	return nil
}

// pull pages from since, checking each author's chain; a gap asks for the
// chain range, and snapshot_required for the peer's snapshot.
func (p *Peer) pull(ch *protocol.Channel, since domain.Timestamp) error {
	return p.pages(ch, since, func(entries []domain.Entry) error {
		for _, e := range entries {
			if err := p.applyLinked(ch, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// pages pulls page after page from since until an answer is empty or the
// cursor stops moving, handing each to take.
func (p *Peer) pages(ch *protocol.Channel, since domain.Timestamp, take func([]domain.Entry) error) error {
	for {
		var cs pb.ChangeSetResponse
		if err := call(ch, protocol.PullChangesReq, &pb.PullChangesRequest{SinceWall: since.Wall, SinceLogic: since.Logical,
			SinceNode: since.Node}, &cs, protocol.ChangeSetRes); err != nil {
			return err
		}
		entries := p.fromProto(cs.GetEntries())
		if len(entries) == 0 {
			return nil
		}
		if err := take(entries); err != nil {
			return err
		}
		last := entries[len(entries)-1].Stamp
		if !last.GroupAfter(since) {
			return nil
		}
		since = last
	}
}

func (p *Peer) applyLinked(ch *protocol.Channel, e domain.Entry) error {
	p.mu.Lock()
	head, held := p.heads[e.Author()], p.held[heldKey(e.Stamp)]
	// An entry older than what it holds of the author (a push brought the
	// later ones first) is merged as it is.
	if held || e.PrevHash == head || !e.Stamp.After(p.vc[e.Author()]) {
		p.applyLocked(e)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	var rng pb.ChainRangeResponse
	if err := call(ch, protocol.GetChainRangeReq, &pb.GetChainRangeRequest{StartHash: head, EndHash: e.PrevHash},
		&rng, protocol.ChainRangeRes); err != nil {
		return err
	}
	if rng.GetSnapshotRequired() {
		return p.fetchSnapshot(ch)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range append(p.fromProto(rng.GetEntries()), e) {
		p.applyLocked(r)
	}
	return nil
}

// fetchSnapshot downloads the peer's snapshot and merges it if it can read it.
func (p *Peer) fetchSnapshot(ch *protocol.Channel) error {
	_ = ch.Conn().SetDeadline(time.Now().Add(10 * time.Second))
	defer ch.Conn().SetDeadline(time.Time{})
	if err := ch.Send(protocol.GetSnapshotReq, &pb.GetSnapshotRequest{}); err != nil {
		return err
	}
	var data []byte
	for {
		var chunk pb.SnapshotChunk
		t, payload, err := ch.Recv()
		if err != nil {
			return err
		}
		if err := protocol.DecodeInto(t, protocol.SnapshotChunkMsg, payload, &chunk); err != nil {
			return err
		}
		data = append(data, chunk.GetData()...)
		if chunk.GetIsLast() {
			break
		}
	}
	p.Stats.SnapshotsFetched.Add(1)
	if err := p.mergeSnapshot(data); err != nil {
		if errors.Is(err, errNotDto) {
			return nil // merges nothing, like 2.3.8
		}
		return err
	}
	p.Stats.SnapshotsMerged.Add(1)
	return nil
}

// pullNewest is the TypeScript node's round: pull what is newer than its
// newest document, and nothing else.
func (p *Peer) pullNewest(ch *protocol.Channel) error {
	p.mu.Lock()
	var since domain.Timestamp
	for _, d := range p.docs {
		if d.Stamp.After(since) {
			since = d.Stamp
		}
	}
	p.mu.Unlock()
	return p.pages(ch, since, func(entries []domain.Entry) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range entries {
			p.applyLocked(e)
		}
		return nil
	})
}

// Prune drops its n oldest oplog entries, as history compaction does: a
// peer that pulls from it then finds chains that do not start at the
// beginning, asks for the range, and is answered snapshot_required.
func (p *Peer) Prune(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	slices.SortFunc(p.oplog, func(a, b domain.Entry) int { return a.Stamp.Compare(b.Stamp) })
	p.oplog = slices.Delete(p.oplog, 0, min(n, len(p.oplog)))
}

// LoseChain forgets where author's chain stands (as a node that lost that
// history does): the next of its entries pulled does not link, so it asks
// for the range.
func (p *Peer) LoseChain(author string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.heads[author] = "lost"
	delete(p.vc, author)
}
