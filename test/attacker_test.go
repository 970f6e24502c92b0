package test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// The attacker's tools of the security tests: nodes configured for them,
// what a node keeps on disk, and the hostile ends of the sync plane (a fake
// peer, a relay, fake clients). Everything listens and dials on loopback.

// attackerWait bounds every single network operation of the attacker.
const attackerWait = 5 * time.Second

// secSpec is what the security tests vary of a node.
type secSpec struct {
	NodeID string
	// AuthToken is the configured secret; empty: none configured, so the
	// node generates one (or runs an open cluster when Env opts in).
	AuthToken string
	Peers     []string
	Secure    bool
	LogLevel  string // empty: Debug
	Env       []string
}

// openClusterEnv is the explicit opt-in to an open cluster.
const openClusterEnv = "ENTGLDB__SECURITY__OPENCLUSTER=true"

// newSecNode prepares a node on loopback ports in its own temporary
// directory (sync every 200 ms); start runs it.
func newSecNode(t *testing.T, s secSpec) *testNode {
	t.Helper()
	level := s.LogLevel
	if level == "" {
		level = "Debug"
	}
	p, err := nodeproc.New(binPath, nodeproc.Spec{Dir: t.TempDir(), NodeID: s.NodeID, AuthToken: s.AuthToken,
		Secure: s.Secure, SyncIntervalMs: 200, RetryDelayMs: 50, ConnectionTimeoutMs: 1000, LogLevel: level, Env: s.Env})
	require.NoError(t, err)
	p.SetPeers(s.Peers)
	require.NoError(t, p.WriteConfig())
	return track(t, p)
}

// newToken returns a secret shaped like a generated join token.
func newToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// dataFile is a file the node keeps beside its database.
func (n *testNode) dataFile(name string) string { return filepath.Join(filepath.Dir(n.DBPath), name) }

// clusterSecret is the node's secret: the configured AuthToken, else the
// one it generated (cluster.secret beside its database).
func (n *testNode) clusterSecret() string {
	n.t.Helper()
	if n.Spec.AuthToken != "" {
		return n.Spec.AuthToken
	}
	data, err := os.ReadFile(n.dataFile("cluster.secret"))
	require.NoError(n.t, err, "the node on defaults keeps a generated secret")
	secret := strings.TrimSpace(string(data))
	require.NotEmpty(n.t, secret)
	return secret
}

// secretForms are the byte strings that would give a secret away: the token
// as configured, its decoded bytes (a generated token is base64url) and
// the Noise key derived from it.
func secretForms(secret string) map[string][]byte {
	psk := protocol.DerivePSK([]byte(secret))
	forms := map[string][]byte{"secret": []byte(secret), "derived psk": psk[:]}
	if raw, err := base64.RawURLEncoding.DecodeString(secret); err == nil && len(raw) >= 16 {
		forms["decoded secret"] = raw
	}
	return forms
}

// requireNoSecret fails when captured holds any form of secret.
func requireNoSecret(t *testing.T, captured []byte, secret, where string) {
	t.Helper()
	for name, form := range secretForms(secret) {
		require.False(t, bytes.Contains(captured, form), "the %s appears in %s", name, where)
	}
}

// health reads the node's /healthz report.
func (n *testNode) health() ports.HealthReport {
	n.t.Helper()
	h, err := n.Client().Health(context.Background())
	require.NoError(n.t, err)
	var r ports.HealthReport
	require.NoError(n.t, json.Unmarshal(h.Report, &r))
	return r
}

// refused is /healthz's handshakes_refused.
func (n *testNode) refused() int64 { return n.health().HandshakesRefused }

// waitRefusedAbove waits until the node has refused more than before handshakes.
func (n *testNode) waitRefusedAbove(before int64, within time.Duration) {
	n.t.Helper()
	eventually(n.t, within, "handshakes_refused to grow on "+n.Spec.NodeID, func() bool { return n.refused() > before })
}

// neverWithin fails as soon as cond holds, and passes when it held at no
// check for the whole period.
func neverWithin(t *testing.T, period time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(period)
	for time.Now().Before(deadline) {
		require.False(t, cond(), what)
		time.Sleep(50 * time.Millisecond)
	}
}

// recorder keeps bytes seen on the wire; safe for concurrent use.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *recorder) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

// recordingConn records every byte read from its connection.
type recordingConn struct {
	net.Conn
	rec *recorder
}

func (c recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	_, _ = c.rec.Write(p[:n])
	return n, err
}

// maxAttackerConns bounds the connections a fake peer or relay accepts.
const maxAttackerConns = 200

// listener is the accepting side of a fake peer or relay: it hands each
// connection to serve (at most maxAttackerConns) and, at the end of the
// test, closes the listener and every connection and waits for them.
type listener struct {
	ln       net.Listener
	finished atomic.Int64 // connections whose serve returned
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func listen(t *testing.T, serve func(net.Conn)) *listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := &listener{ln: ln}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for range maxAttackerConns {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.conns = append(l.conns, conn)
			l.mu.Unlock()
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				defer l.finished.Add(1)
				defer conn.Close()
				serve(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		l.mu.Lock()
		for _, c := range l.conns {
			c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return l
}

func (l *listener) addr() string { return l.ln.Addr().String() }

// relay forwards every connection to target and records both directions.
type relay struct {
	*listener
	wire recorder
}

func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	r := &relay{}
	r.listener = listen(t, func(in net.Conn) {
		out, err := net.DialTimeout("tcp", target, attackerWait)
		if err != nil {
			return
		}
		defer out.Close()
		done := make(chan struct{}, 2)
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(io.MultiWriter(dst, &r.wire), src)
			// Either side closing ends the relayed connection.
			dst.Close()
			src.Close()
			done <- struct{}{}
		}
		go pipe(out, in)
		go pipe(in, out)
		<-done
		<-done
	})
	return r
}

// dialSync opens a TCP connection to a node's sync port with every
// operation bounded by attackerWait.
func dialSync(addr string) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, attackerWait)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(attackerWait))
	return conn, nil
}

// legacyClient opens a v5 plaintext session as a C#/TypeScript node would:
// a HandshakeReq carrying token. It returns the channel (to go on with) and
// the node's answer; an error when the node closed instead of answering.
func legacyClient(addr, nodeID, token string) (*protocol.Channel, *pb.HandshakeResponse, error) {
	conn, err := dialSync(addr)
	if err != nil {
		return nil, nil, err
	}
	ch := protocol.NewChannel(conn, 0)
	var res pb.HandshakeResponse
	err = ch.Call(protocol.HandshakeReq, &pb.HandshakeRequest{NodeId: nodeID, AuthToken: token}, protocol.HandshakeRes, &res)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return ch, &res, nil
}

// noiseClient opens a Go↔Go session as ident with the cluster secret: the
// Noise handshake, then a HandshakeReq signed for this connection.
func noiseClient(addr, secret string, ident protocol.Identity) (*protocol.Channel, *pb.HandshakeResponse, error) {
	conn, err := dialSync(addr)
	if err != nil {
		return nil, nil, err
	}
	ch := protocol.NewChannel(conn, 0)
	res, err := noiseHello(ch, secret, ident)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return ch, res, nil
}

func noiseHello(ch *protocol.Channel, secret string, ident protocol.Identity) (*pb.HandshakeResponse, error) {
	if err := ch.NoiseAsClient(protocol.DerivePSK([]byte(secret))); err != nil {
		return nil, err
	}
	req := &pb.HandshakeRequest{NodeId: ident.NodeID}
	if err := ident.SignRequest(req, ch.ChannelBinding()); err != nil {
		return nil, err
	}
	var res pb.HandshakeResponse
	if err := ch.Call(protocol.HandshakeReq, req, protocol.HandshakeRes, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// freshIdentity is nodeID with a new ed25519 key.
func freshIdentity(t *testing.T, nodeID string) protocol.Identity {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return protocol.Identity{NodeID: nodeID, Private: priv}
}

// nodeIdentity is the identity a node keeps on disk (node.key).
func (n *testNode) nodeIdentity() protocol.Identity {
	n.t.Helper()
	path := n.dataFile("node.key")
	_, err := os.Stat(path)
	require.NoError(n.t, err, "the node keeps its identity key beside its database")
	key, created, err := protocol.LoadOrCreateIdentityKey(path)
	require.NoError(n.t, err)
	require.False(n.t, created)
	return protocol.Identity{NodeID: n.Spec.NodeID, Private: key}
}

// isClosed reports whether the peer has closed conn (or reset it) within
// wait; data it sends first is read and dropped.
func isClosed(conn net.Conn, wait time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 512)
	for range 1000 {
		_, err := conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	return false
}

// fakeAuthor writes entries of one node's chain as that node would send
// them: sealed after the previous one, the run of each batch proven by a
// signature of the author's key over its last link (domain/authorproof.go).
// The key may be another node's: a forgery.
type fakeAuthor struct {
	id   string
	key  ed25519.PrivateKey
	prev string // hash of the last entry written
	link []byte // its content link
	wall int64
}

// newFakeAuthor starts the chain of id, signed with key (nil: a new key).
func newFakeAuthor(t *testing.T, id string, key ed25519.PrivateKey) *fakeAuthor {
	t.Helper()
	if key == nil {
		var err error
		_, key, err = ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
	}
	return &fakeAuthor{id: id, key: key, link: domain.GenesisLink}
}

// after continues the chain after the entry with hash head (whose link the
// forger cannot know: its boundary link stands in).
func (a *fakeAuthor) after(head string) *fakeAuthor {
	a.prev, a.link = head, domain.LinkBefore(head, nil)
	return a
}

// op is one write of a batch: a put when data is set, else a delete.
type op struct{ collection, key, data string }

// batch writes ops as the next run of the chain, proven on its last entry.
func (a *fakeAuthor) batch(ops ...op) []domain.Entry {
	before := a.link
	out := make([]domain.Entry, len(ops))
	for i, o := range ops {
		a.wall = max(a.wall+1, time.Now().UnixMilli())
		e := domain.Entry{Collection: o.collection, Key: o.key, Op: domain.OpPut, Data: []byte(o.data),
			Stamp: domain.Timestamp{Wall: a.wall, Node: a.id}}
		if o.data == "" {
			e.Op, e.Data = domain.OpDelete, nil
		}
		e.Seal(a.prev)
		a.link = domain.NextLink(a.link, domain.EntryDigest(&e))
		a.prev = e.Hash
		out[i] = e
	}
	out[len(out)-1].Proof = &domain.AuthorProof{PublicKey: a.key.Public().(ed25519.PublicKey), LinkBefore: before,
		Signature: domain.SignHead(a.key, a.id, a.link)}
	return out
}

// wireEntries converts entries for a push or a page.
func wireEntries(batches ...[]domain.Entry) []*pb.ProtoOplogEntry {
	var all []domain.Entry
	for _, b := range batches {
		all = append(all, b...)
	}
	return protocol.EntriesToProto(all)
}
