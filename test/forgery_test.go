package test

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// Issue 15's findings, reproduced by a member of the cluster (it holds the
// secret and has an identity of its own) speaking the real protocol on
// loopback: entries it forges in other nodes' names are refused and
// answered success=false, while its honest entries and everyone's later
// writes still flow, and /healthz and the metrics show the refusals.

// secCluster starts n nodes sharing one secret, each the static peer of
// the others.
func secCluster(t *testing.T, prefix string, n int) (string, []*testNode) {
	t.Helper()
	secret := newToken(t)
	nodes := make([]*testNode, n)
	for i := range nodes {
		nodes[i] = newSecNode(t, secSpec{NodeID: fmt.Sprintf("%s-%d", prefix, i), AuthToken: secret})
	}
	meshPeers(nodes)
	for _, nd := range nodes {
		nd.start()
	}
	return secret, nodes
}

// pullAll reads every entry a node serves a member, page after page.
func pullAll(t *testing.T, ch *protocol.Channel) []domain.Entry {
	t.Helper()
	var all []domain.Entry
	var since domain.Timestamp
	for range 1000 {
		var page pb.ChangeSetResponse
		require.NoError(t, ch.Call(protocol.PullChangesReq, &pb.PullChangesRequest{SinceWall: since.Wall,
			SinceLogic: since.Logical, SinceNode: since.Node}, protocol.ChangeSetRes, &page))
		if len(page.GetEntries()) == 0 {
			return all
		}
		for _, pe := range page.GetEntries() {
			e, err := protocol.EntryFromProto(pe)
			require.NoError(t, err)
			all = append(all, e)
		}
		since = all[len(all)-1].Stamp
	}
	t.Fatal("the node serves pages without end")
	return nil
}

// headOf is the hash of author's newest entry among entries.
func headOf(entries []domain.Entry, author string) string {
	head := ""
	for _, e := range entries {
		if e.Author() == author {
			head = e.Hash
		}
	}
	return head
}

// push sends entries over a member's session and returns the node's ack.
func push(t *testing.T, ch *protocol.Channel, batches ...[]domain.Entry) *pb.AckResponse {
	t.Helper()
	var ack pb.AckResponse
	require.NoError(t, ch.Call(protocol.PushChangesReq, &pb.PushChangesRequest{Entries: wireEntries(batches...)},
		protocol.AckRes, &ack), "refusals never end the session")
	return &ack
}

// requireRefusalsShown waits for n's /healthz to list refusals of peer's
// entries for cause, and checks the refusal metric counts them.
func requireRefusalsShown(t *testing.T, n *testNode, peer, cause string) {
	t.Helper()
	want := "peer " + peer + ": "
	eventually(t, 10*time.Second, "the refusals in /healthz", func() bool {
		for _, e := range n.health().Errors {
			if strings.HasPrefix(e, want) && strings.Contains(e, "entries refused ("+cause+")") {
				return true
			}
		}
		return false
	})
	status, body, _ := n.httpDo(http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, status)
	require.Regexp(t, `entgldb_entries_refused_total\{cause="`+cause+`"\} [1-9]`, string(body))
}

// A member pushes ten Deletes authored as another node (which emptied two
// nodes before), and a put in the name of a node whose key is pinned, each
// signed with its own key: refused, answered success=false, nothing
// deleted; its own honest entries in the same pushes are stored, and the
// victim's later writes still arrive.
func TestAttackForgedAuthorAndMassDeletePushed(t *testing.T) {
	secret, nodes := secCluster(t, "forge", 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	for i := range 10 {
		c.put("c", fmt.Sprintf("k%d", i), `{"v":1}`)
	}
	b.put("c", "from-b", `{"v":1}`)
	for _, n := range []*testNode{a, b} {
		eventually(t, 15*time.Second, "c's documents on "+n.Spec.NodeID, func() bool { return n.has("c", "k9") })
	}
	eventually(t, 15*time.Second, "b's document on a", func() bool { return a.has("c", "from-b") })

	mallory := freshIdentity(t, "mallory")
	ch, res, err := noiseClient(a.PeerAddr(), secret, mallory)
	require.NoError(t, err)
	defer ch.Conn().Close()
	require.True(t, res.GetAccepted())
	require.NoError(t, ch.Conn().SetDeadline(time.Now().Add(time.Minute)))
	held := pullAll(t, ch)
	own := newFakeAuthor(t, "mallory", mallory.Private)

	// Ten Deletes in c's name, chained after c's head, signed by mallory.
	var deletes []op
	for i := range 10 {
		deletes = append(deletes, op{"c", fmt.Sprintf("k%d", i), ""})
	}
	forged := newFakeAuthor(t, c.Spec.NodeID, mallory.Private).after(headOf(held, c.Spec.NodeID)).batch(deletes...)
	ack := push(t, ch, forged, own.batch(op{"c", "honest-1", `{"v":1}`}))
	assert.False(t, ack.GetSuccess(), "forged entries are answered success=false")

	// A put in b's name, signed by mallory (b's key is pinned on a).
	asB := newFakeAuthor(t, b.Spec.NodeID, mallory.Private).after(headOf(held, b.Spec.NodeID)).
		batch(op{"c", "from-b", `{"forged":true}`})
	ack = push(t, ch, asB, own.batch(op{"c", "honest-2", `{"v":2}`}))
	assert.False(t, ack.GetSuccess())

	eventually(t, 10*time.Second, "mallory's honest entries on a", func() bool {
		return a.has("c", "honest-1") && a.has("c", "honest-2")
	})
	neverWithin(t, 2*time.Second, "a forged entry applied", func() bool {
		docs, ok := a.allDocs("c")
		return !ok || len(docs) < 13 || strings.Contains(docs["from-b"], "forged")
	})
	// The victims' later writes still reach a (their chains were not cut).
	c.put("c", "after", `{"v":2}`)
	b.put("c", "after-b", `{"v":2}`)
	eventually(t, 15*time.Second, "the victims' later writes on a", func() bool {
		return a.has("c", "after") && a.has("c", "after-b")
	})
	for _, n := range []*testNode{b, c} {
		eventually(t, 15*time.Second, "the honest entries relayed to "+n.Spec.NodeID, func() bool { return n.has("c", "honest-2") })
		assert.True(t, n.has("c", "k0"), "%s lost a document", n.Spec.NodeID)
	}
	requireRefusalsShown(t, a, "mallory", "unauthorized")
}

// A hashless entry in the name of an offline node, stamped ahead (it
// advanced every node's clock for that author, so the node's writes never
// arrived): refused; once the node is back, its writes flow.
func TestAttackHashlessEntryForOfflineNode(t *testing.T) {
	secret, nodes := secCluster(t, "offline", 2)
	a, b := nodes[0], nodes[1]
	b.put("c", "before", `{"v":1}`)
	eventually(t, 15*time.Second, "b's document on a", func() bool { return a.has("c", "before") })
	b.stop()

	mallory := freshIdentity(t, "mallory")
	ch, res, err := noiseClient(a.PeerAddr(), secret, mallory)
	require.NoError(t, err)
	defer ch.Conn().Close()
	require.True(t, res.GetAccepted())
	hashless := domain.Entry{Collection: "c", Key: "before", Op: domain.OpDelete,
		Stamp: domain.Timestamp{Wall: time.Now().Add(40 * time.Second).UnixMilli(), Node: b.Spec.NodeID}}
	ack := push(t, ch, []domain.Entry{hashless}, newFakeAuthor(t, "mallory", mallory.Private).batch(op{"c", "honest", `{}`}))
	assert.False(t, ack.GetSuccess())
	eventually(t, 10*time.Second, "mallory's honest entry on a", func() bool { return a.has("c", "honest") })
	assert.True(t, a.has("c", "before"), "the hashless delete was applied")

	b.start()
	for i := range 3 {
		b.put("c", fmt.Sprintf("later-%d", i), `{"v":1}`)
	}
	eventually(t, 15*time.Second, "b's three later writes on a", func() bool {
		return a.has("c", "later-0") && a.has("c", "later-1") && a.has("c", "later-2")
	})
	requireRefusalsShown(t, a, "mallory", "unauthorized")
}

// fakePeer is a member a node dials (one of its static peers): it answers
// a v5 round with its vector clock and one page of entries, and
// acknowledges whatever the node pushes.
func fakePeer(t *testing.T, secret string, ident protocol.Identity, page []domain.Entry) *listener {
	t.Helper()
	vc := domain.VectorClock{}
	for _, e := range page {
		vc.Observe(e.Stamp)
	}
	return listen(t, func(conn net.Conn) {
		ch := protocol.NewChannel(conn, 0)
		if ch.NoiseAsServer(protocol.DerivePSK([]byte(secret))) != nil {
			return
		}
		if typ, _, err := ch.Recv(); err != nil || typ != protocol.HandshakeReq {
			return
		}
		hello := &pb.HandshakeResponse{NodeId: ident.NodeID, Accepted: true}
		if ident.SignResponse(hello, ch.ChannelBinding()) != nil || ch.Send(protocol.HandshakeRes, hello) != nil {
			return
		}
		ch.MarkAuthenticated()
		for {
			_, msg, err := ch.RecvMessage()
			if err != nil {
				return
			}
			var answer proto.Message
			var answerType protocol.MsgType
			switch m := msg.(type) {
			case *pb.GetVectorClockRequest:
				answerType, answer = protocol.VectorClockRes, &pb.VectorClockResponse{Entries: protocol.VectorClockToProto(vc)}
			case *pb.GetClockRequest:
				newest := vc.Max()
				answerType, answer = protocol.ClockRes, &pb.ClockResponse{HlcWall: newest.Wall, HlcLogic: newest.Logical, HlcNode: newest.Node}
			case *pb.PullChangesRequest:
				since := domain.Timestamp{Wall: m.GetSinceWall(), Logical: m.GetSinceLogic(), Node: m.GetSinceNode()}
				after := slices.DeleteFunc(slices.Clone(page), func(e domain.Entry) bool { return !e.Stamp.GroupAfter(since) })
				answerType, answer = protocol.ChangeSetRes, &pb.ChangeSetResponse{Entries: protocol.EntriesToProto(after)}
			case *pb.PushChangesRequest:
				answerType, answer = protocol.AckRes, &pb.AckResponse{Success: true}
			case *pb.GetChainRangeRequest:
				answerType, answer = protocol.ChainRangeRes, &pb.ChainRangeResponse{SnapshotRequired: true}
			default:
				return // a snapshot: not served
			}
			if ch.Send(answerType, answer) != nil {
				return
			}
		}
	})
}

// A node pulls from a member that serves forged entries beside honest
// ones: Deletes in a known node's name, an entry in the pulling node's own
// name, an entry whose document was altered after its author signed it,
// and a hashless entry of a node whose chain it holds. Only the honest
// entries are taken; the refusals show in /healthz and the metrics.
func TestAttackForgedEntriesPulled(t *testing.T) {
	secret, nodes := secCluster(t, "pulled", 2)
	a, b := nodes[0], nodes[1]
	b.put("c", "k0", `{"v":1}`)
	b.put("c", "k1", `{"v":1}`)
	eventually(t, 15*time.Second, "b's documents on a", func() bool { return a.has("c", "k1") })

	scout, _, err := noiseClient(a.PeerAddr(), secret, freshIdentity(t, "scout"))
	require.NoError(t, err)
	require.NoError(t, scout.Conn().SetDeadline(time.Now().Add(time.Minute)))
	held := pullAll(t, scout)
	scout.Conn().Close()

	mallory := freshIdentity(t, "mallory-peer")
	forgedDeletes := newFakeAuthor(t, b.Spec.NodeID, mallory.Private).after(headOf(held, b.Spec.NodeID)).
		batch(op{"c", "k0", ""}, op{"c", "k1", ""})
	asA := newFakeAuthor(t, a.Spec.NodeID, mallory.Private).after(headOf(held, a.Spec.NodeID)).
		batch(op{"c", "as-a", `{"forged":true}`})
	altered := newFakeAuthor(t, "carol", nil).batch(op{"c", "altered", `{"v":1}`})
	altered[0].Data = []byte(`{"v":"altered"}`)
	hashless := domain.Entry{Collection: "c", Key: "k0", Op: domain.OpDelete,
		Stamp: domain.Timestamp{Wall: time.Now().Add(30 * time.Second).UnixMilli(), Node: b.Spec.NodeID}}
	honest := newFakeAuthor(t, mallory.NodeID, mallory.Private).batch(op{"c", "honest-1", `{"v":1}`}, op{"c", "honest-2", `{"v":2}`})
	var page []domain.Entry
	for _, batch := range [][]domain.Entry{forgedDeletes, asA, altered, {hashless}, honest} {
		page = append(page, batch...)
	}
	slices.SortStableFunc(page, func(x, y domain.Entry) int { return x.Stamp.Compare(y.Stamp) })
	peer := fakePeer(t, secret, mallory, page)

	// a restarts with the fake peer among its static peers.
	require.Zero(t, a.stop())
	a.SetPeers([]string{b.PeerAddr(), peer.addr()})
	a.start()
	eventually(t, 15*time.Second, "the honest entries pulled by a", func() bool {
		return a.has("c", "honest-1") && a.has("c", "honest-2")
	})
	neverWithin(t, 2*time.Second, "a forged entry applied", func() bool {
		return !a.has("c", "k0") || !a.has("c", "k1") || a.has("c", "as-a") || a.has("c", "altered")
	})
	b.put("c", "after", `{"v":2}`)
	eventually(t, 15*time.Second, "b's later write on a", func() bool { return a.has("c", "after") })
	requireRefusalsShown(t, a, mallory.NodeID, "unauthorized")
}

// Three nodes in a line: a's only peer is b, and c talks only to b. What a
// writes reaches c through b with a's proofs (relayed entries verify), and
// what c writes reaches a.
func TestRelayThroughThirdNodeConvergesWithProofs(t *testing.T) {
	secret := newToken(t)
	a := newSecNode(t, secSpec{NodeID: "line-a", AuthToken: secret})
	b := newSecNode(t, secSpec{NodeID: "line-b", AuthToken: secret})
	c := newSecNode(t, secSpec{NodeID: "line-c", AuthToken: secret})
	a.SetPeers([]string{b.PeerAddr()})
	b.SetPeers([]string{a.PeerAddr(), c.PeerAddr()})
	c.SetPeers([]string{b.PeerAddr()})
	for _, n := range []*testNode{a, b, c} {
		n.start()
	}
	for i := range 30 {
		a.put("c", fmt.Sprintf("a%d", i), fmt.Sprintf(`{"i":%d}`, i))
	}
	c.put("c", "from-c", `{"v":1}`)
	eventually(t, 20*time.Second, "a's writes on c", func() bool { return c.has("c", "a29") })
	eventually(t, 20*time.Second, "c's write on a", func() bool { return a.has("c", "from-c") })
	for i := 30; i < 40; i++ {
		a.put("c", fmt.Sprintf("a%d", i), fmt.Sprintf(`{"i":%d}`, i))
	}
	eventually(t, 20*time.Second, "a's later writes on c", func() bool { return c.has("c", "a39") })
	docsA, ok := a.allDocs("c")
	require.True(t, ok)
	docsC, ok := c.allDocs("c")
	require.True(t, ok)
	require.Equal(t, docsA, docsC)
	for _, n := range []*testNode{a, b, c} {
		for _, e := range n.health().Errors {
			assert.NotContains(t, e, "entries refused", "%s refused entries of an honest relay", n.Spec.NodeID)
		}
	}
}
