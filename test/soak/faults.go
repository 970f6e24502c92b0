package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
)

// faultLog records what was injected, for the summary.
type faultLog struct {
	mu     sync.Mutex
	start  time.Time
	events []string
	count  int
	failed []string
}

// add records an injected fault (counted in faults=).
func (f *faultLog) add(format string, args ...any) {
	f.mu.Lock()
	f.count++
	f.mu.Unlock()
	f.note(format, args...)
}

// note records an observation about a fault (not counted).
func (f *faultLog) note(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := fmt.Sprintf("%6.1fs  ", time.Since(f.start).Seconds()) + fmt.Sprintf(format, args...)
	f.events = append(f.events, line)
	fmt.Println("fault:", line)
}

func (f *faultLog) fail(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	f.failed = append(f.failed, msg)
	fmt.Println("FAULT CHECK FAILED:", msg)
}

// killRestart sends SIGKILL to a node and starts it again after pause.
func (c *cluster) killRestart(ctx context.Context, n *node, pause time.Duration) error {
	pid := n.proc.PID()
	n.markChanged()
	if err := n.proc.Kill(); err != nil {
		return err
	}
	c.faults.add("kill -9 %s (pid %d), restart after %s", n.name(), pid, pause)
	if err := sleepCtx(ctx, pause); err != nil {
		return err
	}
	err := n.proc.Start(ctx, 30*time.Second)
	n.markChanged()
	if err != nil {
		return fmt.Errorf("restart %s: %w", n.name(), err)
	}
	n.restarts++
	return nil
}

// partition isolates a node for d (nodeproc's partition scenario: alone on
// another sync port while its HTTP API keeps taking writes), then heals it.
func (c *cluster) partition(ctx context.Context, n *node, d time.Duration) error {
	realPort := n.proc.TCPPort
	n.isolated.Store(true)
	n.markChanged()
	defer func() {
		n.markChanged()
		n.isolated.Store(false)
	}()
	isolated, err := n.proc.Isolate(ctx, 30*time.Second)
	n.markChanged()
	c.faults.add("partition %s for %s (restarted alone on sync port %d instead of %d)", n.name(), d, isolated, realPort)
	if err != nil {
		return err
	}
	n.restarts++
	waitErr := sleepCtx(ctx, d)
	// Evidence that the partition was real: the isolated node took writes
	// the others do not have (or the others took writes it lacks).
	if other := c.anotherNode(n); other != nil {
		a, errA := fetch(context.Background(), n)
		b, errB := fetch(context.Background(), other)
		if errA == nil && errB == nil {
			c.faults.note("before healing: %s holds %d documents (hash %s), %s holds %d (hash %s): diverged=%t",
				n.name(), a.n, a.hash, other.name(), b.n, b.hash, a.hash != b.hash)
		}
	}
	// Healed even when the load has ended: the final convergence needs it.
	n.markChanged()
	if err := n.proc.Heal(context.Background(), 20*time.Second, 30*time.Second); err != nil {
		return err
	}
	n.restarts++
	c.faults.note("healed %s", n.name())
	return waitErr
}

// backup takes an online backup through the API while the load runs and
// verifies the file with `entgldb check --db`.
func (c *cluster) backup(ctx context.Context, n *node) error {
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	rep, err := n.proc.Client().Backup(rctx, "")
	if err != nil || rep.Path == "" {
		c.faults.fail("backup on %s: %+v %v", n.name(), rep, err)
		return nil
	}
	out, err := exec.CommandContext(rctx, c.bin, "check", "--db", rep.Path).CombinedOutput()
	res := strings.TrimSpace(string(out))
	if err != nil || res != "ok" {
		c.faults.fail("entgldb check --db %s: %q %v", rep.Path, res, err)
		return nil
	}
	c.backups++
	c.faults.add("backup of %s mid-load: %s (%d bytes), entgldb check: ok", n.name(), rep.Path, rep.Bytes)
	return nil
}

// intruderStats counts the wrong-key client's attempts.
type intruderStats struct {
	attempts, refused, accepted, leaked, dialErrs atomic.Int64
}

// intruder hammers a node's sync port with handshakes carrying the wrong
// cluster key, then asks for data anyway on the same connection. A correct
// node answers accepted=false (or closes) and never answers the request.
func (c *cluster) intruder(ctx context.Context, n *node, d time.Duration, st *intruderStats) {
	deadline := time.Now().Add(d)
	for i := 0; i < 100_000 && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		st.attempts.Add(1)
		conn, err := net.DialTimeout("tcp", n.proc.PeerAddr(), time.Second)
		if err != nil {
			st.dialErrs.Add(1) // the node may be restarting
			sleepCtx(ctx, 50*time.Millisecond)
			continue
		}
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		ch := protocol.NewChannel(conn, 1<<20)
		func() {
			defer conn.Close()
			// Every other attempt speaks the family's v5 handshake (refused
			// on its first bytes: we are no listed legacy peer), the others
			// Noise with a wrong key.
			var res pb.HandshakeResponse
			var err error
			if i%2 == 0 {
				if c.secure {
					if err := ch.SecureAsClient(); err != nil {
						st.refused.Add(1)
						return
					}
				}
				err = ch.Call(protocol.HandshakeReq, &pb.HandshakeRequest{NodeId: fmt.Sprintf("intruder-%d", i),
					AuthToken: "not-the-cluster-key", SupportedCompression: []string{"brotli"}}, protocol.HandshakeRes, &res)
			} else {
				_, err = noiseHandshake(ch, "not-the-cluster-key", fmt.Sprintf("intruder-%d", i), &res)
			}
			if err == nil && res.GetAccepted() {
				st.accepted.Add(1)
			} else {
				st.refused.Add(1)
			}
			// Ask for everything anyway: no answer may come.
			var cs pb.ChangeSetResponse
			if err := ch.Call(protocol.PullChangesReq, &pb.PullChangesRequest{}, protocol.ChangeSetRes, &cs); err == nil {
				st.leaked.Add(1)
			}
		}()
	}
}

// fuzzStats counts the malformed-frame client's connections: closed by
// the node, or still open when the client's deadline passed (a node may
// legitimately wait for the rest of a truncated frame until its own
// handshake deadline).
type fuzzStats struct{ conns, closedByNode, timedOut, dialErrs atomic.Int64 }

// fuzzer sends malformed input to a node's sync port: random bytes, frame
// headers announcing huge or negative lengths, bad key-exchange lengths,
// and (after a valid key exchange and handshake with the right key, like a
// buggy peer) frames of random types with random payloads and raw garbage
// instead of envelopes. The node must stay up and keep serving.
func (c *cluster) fuzzer(ctx context.Context, n *node, d time.Duration, st *fuzzStats, seed uint64) {
	const clients = 4 // concurrent connections, each its own goroutine, all waited for
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := 0; g < clients; g++ {
		wg.Go(func() {
			rnd := mrand.New(mrand.NewPCG(seed, uint64(g)))
			for i := 0; i < 25_000 && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				conn, err := net.DialTimeout("tcp", n.proc.PeerAddr(), time.Second)
				if err != nil {
					st.dialErrs.Add(1)
					_ = sleepCtx(ctx, 50*time.Millisecond)
					continue
				}
				st.conns.Add(1)
				_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
				if c.fuzzOne(conn, rnd, i%6) {
					st.closedByNode.Add(1)
				} else {
					st.timedOut.Add(1)
				}
				conn.Close()
			}
		})
	}
	wg.Wait()
}

// fuzzOne sends one kind of malformed input and reports whether the node
// closed the connection (rather than the client's deadline passing).
func (c *cluster) fuzzOne(conn net.Conn, rnd *mrand.Rand, mode int) (closedByNode bool) {
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	drain := func() bool { // read until the node closes or the deadline passes
		buf := make([]byte, 4096)
		for j := 0; j < 1000; j++ {
			if _, err := conn.Read(buf); err != nil {
				var ne net.Error
				return !(errors.As(err, &ne) && ne.Timeout())
			}
		}
		return false
	}
	switch mode {
	case 0: // random bytes
		_, _ = conn.Write(randBytes(1 + rnd.IntN(4096)))
	case 1: // a header announcing a huge or negative length, then a little
		hdr := binary.LittleEndian.AppendUint32(nil, []uint32{0x7fffffff, 0xffffffff, 0x80000000, 64 << 20}[rnd.IntN(4)])
		hdr = append(hdr, byte(rnd.IntN(20)), byte(rnd.IntN(3)))
		_, _ = conn.Write(append(hdr, randBytes(rnd.IntN(512))...))
	case 2: // a key-exchange length outside 1..10000, or a truncated key
		l := []uint32{0, 10001, 0xffffffff, 91}[rnd.IntN(4)]
		_, _ = conn.Write(append(binary.LittleEndian.AppendUint32(nil, l), randBytes(rnd.IntN(40))...))
	default: // a valid session (a member with the key), then garbage inside it
		ch := protocol.NewChannel(conn, 1<<20)
		var res pb.HandshakeResponse
		if _, err := noiseHandshake(ch, c.authToken, fmt.Sprintf("fuzzer-%d", rnd.Uint32()), &res); err != nil || !res.GetAccepted() {
			return true
		}
		for j := 0; j < 1+rnd.IntN(4); j++ {
			if mode == 3 {
				t := protocol.MsgType(1 + rnd.IntN(15))
				if t == protocol.SecureEnv {
					t = protocol.GetClockReq
				}
				if err := ch.SendRaw(t, randBytes(rnd.IntN(2048))); err != nil {
					return true
				}
			} else { // raw bytes where a Noise transport frame belongs
				_, _ = conn.Write(append(binary.LittleEndian.AppendUint32(nil, uint32(rnd.IntN(300))),
					append([]byte{byte(protocol.NoiseEnv), 0}, randBytes(rnd.IntN(300))...)...))
			}
		}
	}
	return drain()
}

// noiseHandshake opens a Go↔Go session on ch as nodeID with a fresh
// identity, holding secret as the cluster key; res is the node's answer.
func noiseHandshake(ch *protocol.Channel, secret, nodeID string, res *pb.HandshakeResponse) (protocol.Identity, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return protocol.Identity{}, err
	}
	id := protocol.Identity{NodeID: nodeID, Private: priv}
	if err := ch.NoiseAsClient(protocol.DerivePSK([]byte(secret))); err != nil {
		return id, err
	}
	req := &pb.HandshakeRequest{NodeId: nodeID, SupportedCompression: []string{"brotli"}}
	if err := id.SignRequest(req, ch.ChannelBinding()); err != nil {
		return id, err
	}
	if err := ch.Call(protocol.HandshakeReq, req, protocol.HandshakeRes, res); err != nil {
		return id, err
	}
	ch.MarkAuthenticated()
	return id, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
