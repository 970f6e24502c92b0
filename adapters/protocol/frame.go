package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/entgldb/entgldb-go/domain"
)

// HeaderSize is the fixed frame header: int32 LE length, type, compression.
const HeaderSize = 6

// DefaultMaxFrameBytes is Network.MaxFrameBytes' default (16 MiB).
const DefaultMaxFrameBytes = 16 << 20

// DefaultMaxResponseBytes is Network.MaxResponseBytes' default (256 MiB):
// the cap on a family peer's answer to our own request, which a C# 2.x
// node does not page.
const DefaultMaxResponseBytes = 256 << 20

// eagerAlloc is the largest payload allocated up front; beyond it the buffer
// grows as bytes actually arrive, so a header announcing 16 MiB costs
// nothing until the peer sends them.
const eagerAlloc = 64 << 10

// growAllAt is how much of a frame must have arrived before the rest is
// allocated at once.
const growAllAt = 1 << 20

// Frame is one unit on the TCP stream (PROTOCOL.md §1).
type Frame struct {
	Type       MsgType
	Compressed bool // payload is Brotli-compressed
	Payload    []byte
}

// ReadFrame reads one frame. Negative lengths, unknown message types and
// compression flags other than 0/1 are NETWORK_ERRORs, a length above
// maxFrameBytes is TOO_LARGE: the caller must close the connection on any
// error. A clean close before the first header byte wraps io.EOF.
func ReadFrame(r io.Reader, maxFrameBytes int) (Frame, error) {
	const op = "protocol.ReadFrame"
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return Frame{}, domain.Errorf(domain.CodeNetwork, op, "connection closed: %w", err)
		}
		return Frame{}, ioError(op, "reading frame header", err)
	}
	n := int64(int32(binary.LittleEndian.Uint32(hdr[0:4])))
	t := MsgType(hdr[4])
	switch {
	case n < 0:
		return Frame{}, domain.Errorf(domain.CodeNetwork, op, "negative frame length %d", n)
	case n > int64(maxFrameBytes):
		return Frame{}, domain.Errorf(domain.CodeTooLarge, op, "frame of %d bytes exceeds the %d byte limit", n, maxFrameBytes)
	case !t.Valid():
		return Frame{}, domain.Errorf(domain.CodeNetwork, op, "unknown message type %d", hdr[4])
	case hdr[5] > 1:
		return Frame{}, domain.Errorf(domain.CodeNetwork, op, "unknown compression flag %d", hdr[5])
	}
	f := Frame{Type: t, Compressed: hdr[5] == 1}
	if n == 0 {
		return f, nil
	}
	if n <= eagerAlloc {
		f.Payload = make([]byte, n)
		if _, err := io.ReadFull(r, f.Payload); err != nil {
			return Frame{}, ioError(op, "reading "+t.String()+" payload", err)
		}
		return f, nil
	}
	// Grow by doubling as bytes arrive, then, once the peer has sent
	// growAllAt bytes of it, to exactly n: a very large frame (a family
	// node's unpaged answer) is not copied again at every doubling.
	buf := make([]byte, 0, eagerAlloc)
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			next := min(2*int64(cap(buf)), n)
			if len(buf) >= growAllAt {
				next = n
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return Frame{}, ioError(op, fmt.Sprintf("reading %s payload (%d of %d bytes)", t, len(buf), n), err)
		}
	}
	f.Payload = buf
	return f, nil
}

// AppendFrame appends f's wire form (header and payload) to b.
func AppendFrame(b []byte, f Frame) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Payload)))
	var c byte
	if f.Compressed {
		c = 1
	}
	b = append(b, byte(f.Type), c)
	return append(b, f.Payload...)
}

// WriteFrame writes f with a single Write, so header and payload leave in
// one segment.
func WriteFrame(w io.Writer, f Frame) error {
	if len(f.Payload) > 1<<31-1 {
		return domain.Errorf(domain.CodeTooLarge, "protocol.WriteFrame", "payload of %d bytes cannot be framed", len(f.Payload))
	}
	if _, err := w.Write(AppendFrame(make([]byte, 0, HeaderSize+len(f.Payload)), f)); err != nil {
		return ioError("protocol.WriteFrame", "writing "+f.Type.String()+" frame", err)
	}
	return nil
}

// ioError classifies a socket error: deadline expiries are TIMEOUT_ERROR
// (the resilience layer retries those), everything else NETWORK_ERROR.
func ioError(op, what string, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return domain.Errorf(domain.CodeTimeout, op, "%s: %w", what, err)
	}
	return domain.Errorf(domain.CodeNetwork, op, "%s: %w", what, err)
}
