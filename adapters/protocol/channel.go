package protocol

import (
	"bufio"
	"crypto/ecdh"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/domain"
)

// Channel is a framed message channel over one connection: plaintext, or
// secure after SecureAsClient/SecureAsServer, with Brotli once negotiated.
// Send and Recv may run on different goroutines (each is serialised on its
// own), but the protocol is strictly request/response: never pipeline.
type Channel struct {
	conn     net.Conn
	maxFrame int
	quality  int
	compress atomic.Bool
	secured  atomic.Bool

	rmu sync.Mutex
	br  *bufio.Reader
	in  *sealer // nil until secured; set before any concurrent use

	wmu sync.Mutex
	out *sealer
}

// NewChannel wraps conn. maxFrameBytes caps every incoming frame and every
// decompressed payload (≤ 0 means DefaultMaxFrameBytes).
func NewChannel(conn net.Conn, maxFrameBytes int) *Channel {
	if maxFrameBytes <= 0 {
		maxFrameBytes = DefaultMaxFrameBytes
	}
	return &Channel{
		conn:     conn,
		maxFrame: maxFrameBytes,
		quality:  DefaultBrotliQuality,
		br:       bufio.NewReaderSize(conn, 16<<10),
	}
}

// Conn returns the underlying connection (for deadlines and Close).
func (c *Channel) Conn() net.Conn { return c.conn }

// Secure reports whether the key exchange has completed.
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
	if c.out != nil {
		return domain.Errorf(domain.CodeInternal, "protocol.Secure", "channel is already secure")
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
	if c.out, err = newSealer(sendKey); err != nil {
		return err
	}
	if c.in, err = newSealer(recvKey); err != nil {
		return err
	}
	c.secured.Store(true)
	return nil
}

// SetCompression turns Brotli on for outgoing payloads longer than
// CompressThreshold; call it once the handshake selected "brotli".
// Incoming compressed frames are accepted either way.
func (c *Channel) SetCompression(on bool) { c.compress.Store(on) }

// SetCompressionQuality sets the Brotli quality (0–11) used from now on.
func (c *Channel) SetCompressionQuality(q int) {
	c.wmu.Lock()
	c.quality = max(0, min(q, 11))
	c.wmu.Unlock()
}

// Send marshals m and writes it as one frame of type t (sealed in a
// SecureEnvelope on a secure channel).
func (c *Channel) Send(t MsgType, m proto.Message) error {
	payload, err := proto.Marshal(m)
	if err != nil {
		return domain.Errorf(domain.CodeInternal, "protocol.Send", "marshal %s: %w", t, err)
	}
	return c.SendRaw(t, payload)
}

// SendRaw writes an already-marshalled payload as a frame of type t.
func (c *Channel) SendRaw(t MsgType, payload []byte) error {
	if !t.Valid() || t == SecureEnv {
		return domain.Errorf(domain.CodeInternal, "protocol.Send", "cannot send message type %d", uint8(t))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	compressed := false
	if c.compress.Load() && len(payload) > CompressThreshold {
		payload, compressed = Compress(payload, c.quality), true
	}
	f := Frame{Type: t, Compressed: compressed, Payload: payload}
	if c.out != nil {
		env, err := c.out.seal(t, compressed, payload)
		if err != nil {
			return err
		}
		f = Frame{Type: SecureEnv, Payload: env}
	}
	return WriteFrame(c.conn, f)
}

// Recv reads the next message: its type and its payload, opened and
// decompressed (capped at maxFrameBytes). Any error means the connection
// is no longer usable and must be closed.
func (c *Channel) Recv() (MsgType, []byte, error) {
	const op = "protocol.Recv"
	c.rmu.Lock()
	defer c.rmu.Unlock()
	f, err := ReadFrame(c.br, c.maxFrame)
	if err != nil {
		return 0, nil, err
	}
	t, compressed, payload := f.Type, f.Compressed, f.Payload
	switch {
	case c.in != nil && (t != SecureEnv || compressed):
		return 0, nil, domain.Errorf(domain.CodeNetwork, op, "plaintext %s frame on a secure channel", t)
	case c.in == nil && t == SecureEnv:
		return 0, nil, domain.Errorf(domain.CodeNetwork, op, "secure envelope on a plaintext channel (is SecureMode on for both nodes?)")
	case c.in != nil:
		if t, compressed, payload, err = c.in.open(payload); err != nil {
			return 0, nil, err
		}
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
