package protocol

import (
	"bufio"
	"encoding/binary"

	"github.com/entgldb/entgldb-go/domain"
)

// Hello is the mode a connecting peer speaks, told by its first bytes.
type Hello uint8

const (
	// HelloUnknown: bytes that start none of the modes below.
	HelloUnknown Hello = iota
	// HelloNoise: a NoiseHandshake frame (Go nodes).
	HelloNoise
	// HelloLegacySecure: the P-256 key message of the legacy secure mode
	// (a 4-byte little-endian length 91, then the SPKI DER SEQUENCE 30 59).
	HelloLegacySecure
	// HelloLegacyPlain: a plaintext HandshakeReq frame (the token in clear).
	HelloLegacyPlain
)

func (h Hello) String() string {
	switch h {
	case HelloNoise:
		return "noise"
	case HelloLegacySecure:
		return "legacy-secure"
	case HelloLegacyPlain:
		return "legacy-plaintext"
	}
	return "unknown"
}

// helloBytes is how much PeekHello needs: one frame header.
const helloBytes = HeaderSize

// legacyKeyLen is the length of a P-256 SubjectPublicKeyInfo in DER.
const legacyKeyLen = 91

// PeekHello tells which mode the peer speaks from the first bytes it sent,
// without consuming them: the caller then runs the matching handshake on
// the same reader (Channel.PeekHello does so on the channel's reader), or
// refuses a mode it does not allow. It waits for 6 bytes, so set a read
// deadline first. Bytes that match no mode are a NETWORK_ERROR.
func PeekHello(r *bufio.Reader) (Hello, error) {
	const op = "protocol.PeekHello"
	b, err := r.Peek(helloBytes)
	if err != nil {
		return HelloUnknown, ioError(op, "reading the first bytes", err)
	}
	n := int32(binary.LittleEndian.Uint32(b[0:4]))
	switch {
	case MsgType(b[4]) == NoiseHandshake && b[5] == 0 && n > 0 && n <= maxNoiseHandshakeFrame:
		return HelloNoise, nil
	case n == legacyKeyLen && b[4] == 0x30 && b[5] == legacyKeyLen-2:
		return HelloLegacySecure, nil
	case MsgType(b[4]) == HandshakeReq && b[5] <= 1 && n >= 0:
		return HelloLegacyPlain, nil
	}
	return HelloUnknown, domain.Errorf(domain.CodeNetwork, op, "the first bytes % x start no known handshake", b)
}

// PeekHello is PeekHello on the channel's own reader; call it before any
// handshake.
func (c *Channel) PeekHello() (Hello, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return PeekHello(c.br)
}
