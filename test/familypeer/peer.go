// Package familypeer runs stand-ins for the other nodes of the EntglDb
// family over real TCP, built from what their source says they do
// (docs/PROTOCOL-NOTES.md, "The family today"), since neither .NET nor
// Node.js is at hand in tests:
//
//   - CSharp behaves like EntglDb.Net 2.3.8: it answers a pull with its
//     whole remaining oplog in one ChangeSetResponse (since_node and page
//     limits ignored); sends its snapshot as PascalCase SnapshotDto JSON in
//     80 KiB chunks and then an empty is_last chunk, and reads only that
//     shape, case-sensitively; answers snapshot_required to every
//     non-trivial GetChainRange (its BLite store); as a client it
//     handshakes once and reuses the connection every round, starting
//     each with GetVectorClock, fetches the snapshot whenever a peer
//     answers snapshot_required, and pushes a peer only the collections
//     it announced as interests (none announced: nothing); it reads
//     "Delete" as a delete and any other operation as a put.
//   - TypeScript behaves like EntglDb.NodeJs 0.8: it spells operations
//     "put"/"delete" and takes only "delete" for a delete (a "Delete"
//     becomes a live, empty document); its server leaves clock, vector
//     clock, chain range and snapshot requests unanswered but takes
//     pushes; as a client it only pulls, and only what is newer than its
//     own newest document.
package familypeer

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// Flavor is which family node a Peer stands in for.
type Flavor int

const (
	// CSharp is EntglDb.Net 2.3.8 on its BLite store.
	CSharp Flavor = iota
	// TypeScript is EntglDb.NodeJs 0.8.
	TypeScript
)

// Options configure a Peer.
type Options struct {
	Flavor Flavor
	NodeID string
	// Token is the cluster key its handshake sends and expects.
	Token string
	// Interests are announced in its handshake answers (C#).
	Interests []string
	// NoPushes: its server leaves PushChanges unanswered too (a
	// TypeScript node that takes no pushes).
	NoPushes bool
}

// Stats count what a Peer did.
type Stats struct {
	// Handshakes it made as a client.
	Handshakes atomic.Int64
	// Rounds it completed as a client.
	Rounds atomic.Int64
	// RoundErrors: rounds that failed on an open connection (which is then
	// dropped); DialErrors: connections or handshakes that failed.
	RoundErrors, DialErrors atomic.Int64
	// SnapshotsFetched and SnapshotsMerged: a peer's snapshot downloaded,
	// and one it could read.
	SnapshotsFetched, SnapshotsMerged atomic.Int64
	// Unanswered are requests its server left without an answer.
	Unanswered atomic.Int64
	// PushesTaken are PushChanges its server applied.
	PushesTaken atomic.Int64
	// Served are entries its server sent in answers to pulls.
	Served atomic.Int64
}

// Peer is one stand-in node: an in-memory store, a server and, once Run,
// a client.
type Peer struct {
	opts    Options
	clock   *domain.Clock
	Stats   Stats
	lastErr atomic.Value // string

	mu    sync.Mutex
	docs  map[[2]string]domain.Document
	oplog []domain.Entry
	held  map[string]bool // author|wall|logic
	vc    map[string]domain.Timestamp
	heads map[string]string

	ln     net.Listener
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
	connMu sync.Mutex
	conns  map[net.Conn]bool
}

// New builds a Peer and starts its server on 127.0.0.1; Close stops it.
func New(opts Options) (*Peer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{opts: opts, clock: domain.NewClock(opts.NodeID, func() int64 { return time.Now().UnixMilli() }, 0),
		docs: map[[2]string]domain.Document{}, held: map[string]bool{}, vc: map[string]domain.Timestamp{},
		heads: map[string]string{}, ln: ln, ctx: ctx, cancel: cancel, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is its server's address.
func (p *Peer) Addr() string { return p.ln.Addr().String() }

// NodeID is its node id.
func (p *Peer) NodeID() string { return p.opts.NodeID }

// Close stops its server and client and waits for them.
func (p *Peer) Close() {
	p.cancel()
	_ = p.ln.Close()
	p.connMu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.connMu.Unlock()
	p.wg.Wait()
}

func (p *Peer) track(c net.Conn, on bool) bool {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if on && p.ctx.Err() != nil {
		_ = c.Close()
		return false
	}
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
	return true
}

// Put writes a document locally.
func (p *Peer) Put(collection, key, body string) {
	p.write(collection, key, domain.OpPut, []byte(body))
}

// Delete deletes a document locally.
func (p *Peer) Delete(collection, key string) {
	p.write(collection, key, domain.OpDelete, nil)
}

func (p *Peer) write(collection, key string, op domain.Op, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := domain.Entry{Collection: collection, Key: key, Op: op, Data: data, Stamp: p.clock.Now()}
	e.Seal(p.heads[p.opts.NodeID])
	p.applyLocked(e)
}

// Live is every live document: collection/key → JSON.
func (p *Peer) Live() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for k, d := range p.docs {
		if !d.Deleted {
			out[k[0]+"/"+k[1]] = string(d.Data)
		}
	}
	return out
}

// Entries is the number of oplog entries it holds.
func (p *Peer) Entries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.oplog)
}

func heldKey(ts domain.Timestamp) string {
	return ts.Node + "|" + ts.String()
}

// applyLocked stores an entry last-write-wins, once.
func (p *Peer) applyLocked(e domain.Entry) {
	if p.held[heldKey(e.Stamp)] {
		return
	}
	_, _ = p.clock.Update(e.Stamp)
	p.held[heldKey(e.Stamp)] = true
	e.Data = slices.Clone(e.Data)
	e.Proof, e.Legacy = nil, false
	p.oplog = append(p.oplog, e)
	if e.Stamp.After(p.vc[e.Author()]) {
		p.vc[e.Author()] = e.Stamp
		p.heads[e.Author()] = e.Hash
	}
	k := [2]string{e.Collection, e.Key}
	if cur, ok := p.docs[k]; !ok || e.Stamp.After(cur.Stamp) {
		p.docs[k] = domain.Document{Collection: e.Collection, Key: e.Key, Data: e.Data, Stamp: e.Stamp,
			Deleted: e.Op == domain.OpDelete}
	}
}

// after is the oplog strictly after (since's wall, logic), whatever its
// node, in stamp order, of the collections given (none: all).
func (p *Peer) after(since domain.Timestamp, collections []string) []domain.Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []domain.Entry
	for _, e := range p.oplog {
		if e.Stamp.GroupAfter(since) && (len(collections) == 0 || slices.Contains(collections, e.Collection)) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b domain.Entry) int { return a.Stamp.Compare(b.Stamp) })
	return out
}

// spell writes an operation as this flavor does.
func (p *Peer) spell(o domain.Op) string {
	if p.opts.Flavor == TypeScript {
		return protocol.SpellLower.Op(o)
	}
	return protocol.SpellPascal.Op(o)
}

// parseOp reads an operation as this flavor does: only its own spelling of
// a delete is a delete, anything else a put.
func (p *Peer) parseOp(s string) domain.Op {
	if s == p.spell(domain.OpDelete) {
		return domain.OpDelete
	}
	return domain.OpPut
}

func (p *Peer) toProto(entries []domain.Entry) []*pb.ProtoOplogEntry {
	out := make([]*pb.ProtoOplogEntry, len(entries))
	for i, e := range entries {
		out[i] = &pb.ProtoOplogEntry{Collection: e.Collection, Key: e.Key, Operation: p.spell(e.Op),
			JsonData: string(e.Data), HlcWall: e.Stamp.Wall, HlcLogic: e.Stamp.Logical, HlcNode: e.Stamp.Node,
			Hash: e.Hash, PreviousHash: e.PrevHash}
	}
	return out
}

func (p *Peer) fromProto(in []*pb.ProtoOplogEntry) []domain.Entry {
	out := make([]domain.Entry, len(in))
	for i, e := range in {
		out[i] = domain.Entry{Collection: e.GetCollection(), Key: e.GetKey(), Op: p.parseOp(e.GetOperation()),
			Data: []byte(e.GetJsonData()), Stamp: domain.Timestamp{Wall: e.GetHlcWall(), Logical: e.GetHlcLogic(), Node: e.GetHlcNode()},
			Hash: e.GetHash(), PrevHash: e.GetPreviousHash()}
	}
	return out
}

// handshake runs the client side of the v5 handshake on ch.
func (p *Peer) handshake(ch *protocol.Channel) (*pb.HandshakeResponse, error) {
	var res pb.HandshakeResponse
	err := ch.Call(protocol.HandshakeReq, &pb.HandshakeRequest{NodeId: p.opts.NodeID, AuthToken: p.opts.Token,
		InterestingCollections: p.opts.Interests}, protocol.HandshakeRes, &res)
	if err != nil {
		return nil, err
	}
	if !res.GetAccepted() {
		return nil, errors.New("handshake refused")
	}
	return &res, nil
}
