package protocol

import (
	"bufio"
	"crypto/ecdh"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/domain"
)

// Channel is a framed message channel over one connection: plaintext,
// secure (the legacy P-256 exchange of the C#/TypeScript family) after
// SecureAsClient/SecureAsServer, or Noise (Go nodes) after
// NoiseAsClient/NoiseAsServer, with Brotli once negotiated.
// Send and Recv may run on different goroutines (each is serialised on its
// own), but the protocol is strictly request/response: never pipeline.
type Channel struct {
	conn       net.Conn
	maxFrame   int
	preAuthMax int // 0: no pre-authentication limits (WithPreAuthLimit)
	quality    int
	compress   atomic.Bool
	secured    atomic.Bool
	authed     atomic.Bool
	failed     atomic.Bool // a handshake failed: nothing more may pass

	rmu sync.Mutex
	br  *bufio.Reader
	in  envelope // nil until secured; set before any concurrent use

	wmu sync.Mutex
	out envelope

	binding   []byte    // the Noise handshake hash; set with in and out
	noiseRand io.Reader // nil: crypto/rand; fixed by fuzzing for repeatable keys
}

// envelope encrypts (or decrypts) the frames of one direction of a secure
// channel: the legacy SecureEnv sealer or the Noise one.
type envelope interface {
	outer() MsgType // the frame type its envelopes travel in
	seal(t MsgType, compressed bool, payload []byte) ([]byte, error)
	open(env []byte) (t MsgType, compressed bool, payload []byte, err error)
}

// DefaultPreAuthFrameBytes is the frame cap before authentication: a
// handshake request with its identity proof fits many times over.
const DefaultPreAuthFrameBytes = 4 << 10

// ChannelOption adjusts a Channel at construction.
type ChannelOption func(*Channel)

// WithPreAuthLimit puts the channel in pre-authentication mode until
// MarkAuthenticated: incoming frames (and envelopes) are capped at n bytes
// (≤ 0 means DefaultPreAuthFrameBytes, never above maxFrameBytes) and a
// compressed frame is refused without being decompressed, so a stranger
// cannot make the node allocate more than n bytes per connection.
func WithPreAuthLimit(n int) ChannelOption {
	return func(c *Channel) {
		if n <= 0 {
			n = DefaultPreAuthFrameBytes
		}
		c.preAuthMax = n
	}
}

// NewChannel wraps conn. maxFrameBytes caps every incoming frame and every
// decompressed payload (≤ 0 means DefaultMaxFrameBytes).
func NewChannel(conn net.Conn, maxFrameBytes int, opts ...ChannelOption) *Channel {
	if maxFrameBytes <= 0 {
		maxFrameBytes = DefaultMaxFrameBytes
	}
	c := &Channel{
		conn:     conn,
		maxFrame: maxFrameBytes,
		quality:  DefaultBrotliQuality,
		br:       bufio.NewReaderSize(conn, 16<<10),
	}
	for _, o := range opts {
		o(c)
	}
	c.preAuthMax = min(c.preAuthMax, c.maxFrame)
	c.authed.Store(c.preAuthMax == 0)
	return c
}

// SetMaxFrameBytes changes the cap on incoming frames and decompressed
// payloads once authenticated (a dialer raises it for the answers of a
// family peer, which does not page them).
func (c *Channel) SetMaxFrameBytes(n int) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if n > 0 {
		c.maxFrame = n
	}
}

// MarkAuthenticated lifts the pre-authentication limits: call it once the
// peer has proven membership (and its identity). From then on frames up to
// maxFrameBytes and compressed frames are accepted.
func (c *Channel) MarkAuthenticated() { c.authed.Store(true) }

// IsAuthenticated reports whether the pre-authentication limits are lifted
// (always true on a channel built without WithPreAuthLimit).
func (c *Channel) IsAuthenticated() bool { return c.authed.Load() }

// recvLimit is the frame cap in force now.
func (c *Channel) recvLimit() int {
	if c.authed.Load() {
		return c.maxFrame
	}
	return c.preAuthMax
}

// errFailed answers every use of a channel whose handshake failed, so a
// caller that ignores the handshake error still cannot talk in the clear.
func errFailed(op string) error {
	return domain.Errorf(domain.CodeUnauthorized, op, "the channel's handshake failed")
}

// Conn returns the underlying connection (for deadlines and Close).
func (c *Channel) Conn() net.Conn { return c.conn }

// Secure reports whether a key exchange (legacy or Noise) has completed.
func (c *Channel) Secure() bool { return c.secured.Load() }

// SecureAsClient runs the key exchange as the connecting side: it encrypts
// with K1 and decrypts with K2. Call it before any frame.
func (c *Channel) SecureAsClient() error { return c.secure(true, nil) }

// SecureAsServer runs the key exchange as the accepting side: it encrypts
// with K2 and decrypts with K1.
func (c *Channel) SecureAsServer() error { return c.secure(false, nil) }

// secure runs the exchange; priv is injected by tests (nil: fresh key).
func (c *Channel) secure(client bool, priv *ecdh.PrivateKey) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.out != nil || c.failed.Load() {
		return domain.Errorf(domain.CodeInternal, "protocol.Secure", "channel is already secure (or failed its handshake)")
	}
	if priv == nil {
		k, err := newEphemeralKey()
		if err != nil {
			return err
		}
		priv = k
	}
	keys, err := keyExchange(bufferedConn{c.conn, c.br}, priv)
	if err != nil {
		return err
	}
	sendKey, recvKey := keys.K1, keys.K2
	if !client {
		sendKey, recvKey = keys.K2, keys.K1
	}
	out, err := newSealer(sendKey)
	if err != nil {
		return err
	}
	in, err := newSealer(recvKey)
	if err != nil {
		return err
	}
	c.out, c.in = out, in
	c.secured.Store(true)
	return nil
}

// SetCompression turns Brotli on for outgoing payloads longer than
// CompressThreshold; call it once the handshake selected "brotli".
// Incoming compressed frames are accepted either way.
func (c *Channel) SetCompression(on bool) { c.compress.Store(on) }

// Compressing reports whether outgoing payloads are compressed.
func (c *Channel) Compressing() bool { return c.compress.Load() }

// SetCompressionQuality sets the Brotli quality (0–11) used from now on.
func (c *Channel) SetCompressionQuality(q int) {
	c.wmu.Lock()
	c.quality = max(0, min(q, 11))
	c.wmu.Unlock()
}

// Send marshals m and writes it as one frame of type t (sealed in a
// SecureEnv or NoiseEnv envelope on a secure channel).
func (c *Channel) Send(t MsgType, m proto.Message) error {
	payload, err := proto.Marshal(m)
	if err != nil {
		return domain.Errorf(domain.CodeInternal, "protocol.Send", "marshal %s: %w", t, err)
	}
	return c.SendRaw(t, payload)
}

// SendRaw writes an already-marshalled payload as a frame of type t.
func (c *Channel) SendRaw(t MsgType, payload []byte) error {
	return c.send(t, payload, false)
}

// SendCompressed writes a marshalled payload the caller already compressed
// (Compress) as a compressed frame of type t, whatever SetCompression
// says: a long stream compresses its next frames while this one is
// written. Send it only to a peer that negotiated Brotli.
func (c *Channel) SendCompressed(t MsgType, compressed []byte) error {
	return c.send(t, compressed, true)
}

// send writes payload as a frame of type t, compressing it here unless
// the caller did (precompressed).
func (c *Channel) send(t MsgType, payload []byte, precompressed bool) error {
	if !t.Valid() || t.transport() {
		return domain.Errorf(domain.CodeInternal, "protocol.Send", "cannot send message type %d", uint8(t))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.failed.Load() {
		return errFailed("protocol.Send")
	}
	compressed := precompressed
	if !compressed && c.compress.Load() && len(payload) > CompressThreshold {
		payload, compressed = Compress(payload, c.quality), true
	}
	f := Frame{Type: t, Compressed: compressed, Payload: payload}
	if c.out != nil {
		env, err := c.out.seal(t, compressed, payload)
		if err != nil {
			return err
		}
		f = Frame{Type: c.out.outer(), Payload: env}
	}
	return WriteFrame(c.conn, f)
}

// Recv reads the next message: its type and its payload, opened and
// decompressed (capped at maxFrameBytes, or at the pre-authentication
// limit, which also refuses compressed frames). Any error means the
// connection is no longer usable and must be closed.
func (c *Channel) Recv() (MsgType, []byte, error) {
	const op = "protocol.Recv"
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.failed.Load() {
		return 0, nil, errFailed(op)
	}
	authed := c.authed.Load()
	f, err := ReadFrame(c.br, c.recvLimit())
	if err != nil {
		if !authed && domain.CodeOf(err) == domain.CodeTooLarge {
			return 0, nil, domain.Errorf(domain.CodeTooLarge, op, "before authentication: %w", err)
		}
		return 0, nil, err
	}
	t, compressed, payload := f.Type, f.Compressed, f.Payload
	switch {
	case c.in != nil && (t != c.in.outer() || compressed):
		return 0, nil, domain.Errorf(domain.CodeNetwork, op, "%s frame on a channel secured by %s envelopes", t, c.in.outer())
	case c.in == nil && t.transport():
		return 0, nil, domain.Errorf(domain.CodeNetwork, op, "%s frame on a plaintext channel (do both nodes use the same security mode?)", t)
	case c.in != nil:
		if t, compressed, payload, err = c.in.open(payload); err != nil {
			return 0, nil, err
		}
	}
	if compressed && !authed {
		// Refused unread: a few dozen compressed bytes can expand to
		// the frame cap, which a stranger must not make us allocate.
		return 0, nil, domain.Errorf(domain.CodeUnauthorized, op, "compressed %s frame before authentication", t)
	}
	if compressed {
		if payload, err = Decompress(payload, c.maxFrame); err != nil {
			return 0, nil, err
		}
	}
	return t, payload, nil
}

// RecvMessage is Recv followed by Decode.
func (c *Channel) RecvMessage() (MsgType, proto.Message, error) {
	t, payload, err := c.Recv()
	if err != nil {
		return 0, nil, err
	}
	m, err := Decode(t, payload)
	return t, m, err
}

// Call sends a request and decodes the response into resp, which must be
// of type want.
func (c *Channel) Call(t MsgType, req proto.Message, want MsgType, resp proto.Message) error {
	if err := c.Send(t, req); err != nil {
		return err
	}
	got, payload, err := c.Recv()
	if err != nil {
		return err
	}
	return DecodeInto(got, want, payload, resp)
}

// bufferedConn reads through the channel's buffer so bytes the peer sent
// right behind its key are not lost to the key exchange.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
