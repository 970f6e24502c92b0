package tcp

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/adapters/retry"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Dialer opens handshaken sessions to peers (ports.PeerDialer). Every dial
// runs through the Executor, keyed by address: retries for transient
// failures and a circuit breaker per peer. Sessions closed while healthy
// go back to a small per-address pool and are handed out again by the next
// Dial; a session that saw any error is closed, never reused.
type Dialer struct {
	opts   DialerOptions
	exec   ports.Executor
	logger *zap.Logger

	mu     sync.Mutex
	idle   map[string][]*conn       // guarded by mu; newest last
	closed bool                     // guarded by mu
	traits map[string]*familyTraits // guarded by mu; by address (family.go)
}

var _ ports.PeerDialer = (*Dialer)(nil)

// NewDialer builds a Dialer. A nil exec dials once, without policies.
func NewDialer(opts DialerOptions, exec ports.Executor, logger *zap.Logger) *Dialer {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Dialer{
		opts:   opts.withDefaults(),
		exec:   exec,
		logger: logger.Named("tcp.dialer"),
		idle:   make(map[string][]*conn),
		traits: make(map[string]*familyTraits),
	}
}

// Dial returns a session to address: a pooled idle one that is still
// alive, else a new connection (connect, key exchange, handshake). The
// caller must Close it, which returns it to the pool when healthy.
func (d *Dialer) Dial(ctx context.Context, address string) (ports.PeerSession, error) {
	if c := d.takeIdle(address); c != nil {
		return &Session{c: c, d: d}, nil
	}
	var c *conn
	run := func(ctx context.Context) error {
		var err error
		c, err = d.open(ctx, address)
		return err
	}
	var err error
	if d.exec != nil {
		err = d.exec.Run(ctx, address, run)
	} else {
		err = run(ctx)
	}
	if err != nil {
		return nil, err
	}
	return &Session{c: c, d: d}, nil
}

// Session is Dial under the name the sync engine reads best when it means
// "a session to this peer, reused if one is idle".
func (d *Dialer) Session(ctx context.Context, address string) (ports.PeerSession, error) {
	return d.Dial(ctx, address)
}

// Close closes the idle sessions; sessions in use are closed by their
// Close, which no longer pools them.
func (d *Dialer) Close() error {
	d.mu.Lock()
	idle := d.idle
	d.idle = make(map[string][]*conn)
	d.closed = true
	d.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.close()
		}
	}
	return nil
}

// IdleSessions is the number of pooled sessions (for tests and status).
func (d *Dialer) IdleSessions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, cs := range d.idle {
		n += len(cs)
	}
	return n
}

func (d *Dialer) takeIdle(address string) *conn {
	for {
		d.mu.Lock()
		cs := d.idle[address]
		if len(cs) == 0 {
			d.mu.Unlock()
			return nil
		}
		c := cs[len(cs)-1]
		d.idle[address] = cs[:len(cs)-1]
		d.mu.Unlock()
		// A pooled connection the peer has since closed (its idle timeout,
		// a restart) would fail the caller's first request: check first.
		if time.Since(c.lastUsed) < d.opts.MaxIdleTime && alive(c.raw) {
			return c
		}
		c.close()
	}
}

// putIdle pools c, or closes it when it is broken, the pool is full or the
// dialer is closed.
func (d *Dialer) putIdle(c *conn) {
	if c.broken || d.opts.MaxIdlePerPeer < 0 {
		c.close()
		return
	}
	c.lastUsed = time.Now()
	d.mu.Lock()
	if d.closed || len(d.idle[c.address]) >= d.opts.MaxIdlePerPeer {
		d.mu.Unlock()
		c.close()
		return
	}
	d.idle[c.address] = append(d.idle[c.address], c)
	d.mu.Unlock()
}

// open connects and handshakes; the whole exchange is bounded by
// ConnectTimeout (and by ctx).
func (d *Dialer) open(ctx context.Context, address string) (*conn, error) {
	const op = "tcp.Dial"
	o := d.opts
	nd := net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: keepAlivePeriod}
	raw, err := nd.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, transportErr(ctx, op, err)
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	// Until the peer has proven itself: small frames, nothing inflated.
	c := &conn{raw: raw, ch: protocol.NewChannel(raw, o.MaxFrameBytes, protocol.WithPreAuthLimit(0)), address: address}
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	stop := c.bound(ctx, o.ConnectTimeout)
	defer stop()

	var res *pb.HandshakeResponse
	legacy := o.Trust.isLegacyPeer(address)
	if legacy {
		res, err = d.legacyHandshake(ctx, c)
	} else {
		res, err = d.noiseHandshake(ctx, c)
	}
	if err != nil {
		return nil, err
	}
	c.ch.MarkAuthenticated()
	if legacy {
		// A family node answers a pull with its whole oplog at once.
		c.ch.SetMaxFrameBytes(o.MaxResponseBytes)
	}
	if o.Compression && res.GetSelectedCompression() == compressionBrotli {
		c.ch.SetCompression(true)
	}
	c.peerID = res.GetNodeId()
	c.interests = res.GetInterestingCollections()
	c.legacy = legacy
	c.caps = res.GetCapabilities()
	ok = true
	d.logger.Debug("connected", zap.String("address", address), zap.String("peer", protocol.Truncate(c.peerID, protocol.LogFieldMax)),
		zap.Bool("legacy", legacy), zap.String("compression", res.GetSelectedCompression()))
	return c, nil
}

// handshakeErr classifies a failure during the key exchange or handshake:
// the socket failing (closed, reset, timed out) is a transient network
// error; bytes that make no sense are a protocol violation that another
// attempt will not fix, typically a secure node talking to a plaintext one.
func handshakeErr(ctx context.Context, op, address, hint string, err error) error {
	var ne net.Error
	if domain.CodeOf(err) == domain.CodeUnauthorized {
		return refusedErr(op, address, err)
	}
	if callerErr(ctx, err) != nil || isClosedConn(err) || errors.As(err, &ne) || isTimeout(err) {
		return domain.Errorf(domain.CodeOf(transportErr(ctx, op, err)), op, "peer %s: %s: %w", address, hint, err)
	}
	return retry.Permanent(domain.Errorf(domain.CodeNetwork, op, "peer %s: %s: %w", address, hint, err))
}
