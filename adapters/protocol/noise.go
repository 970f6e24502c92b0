package protocol

import (
	"crypto/hkdf"
	"crypto/sha256"
	"io"

	"github.com/flynn/noise"

	"github.com/entgldb/entgldb-go/domain"
)

// Go nodes talk over Noise_NNpsk0_25519_ChaChaPoly_SHA256: two ephemeral
// X25519 keys and the cluster's pre-shared key mixed in before the first
// message. Only a holder of the key can produce or answer a first message,
// the key itself never travels, and both sides end with the same handshake
// hash (ChannelBinding) to which identity proofs are bound. SHA-256 rather
// than BLAKE2s: it is the hash DerivePSK and the identity proofs already use,
// it comes from the standard library (hardware-accelerated where the CPU
// has it), and the handshake hashes a few hundred bytes, so speed does not
// decide. ChaChaPoly is constant-time without AES instructions, which small
// LAN devices often lack.

// NoisePrologue is mixed into every Noise handshake, so a handshake of
// another protocol or version (with the same key) cannot complete.
const NoisePrologue = "entgldb/1"

// pskInfo is the HKDF info label of DerivePSK; changing it changes every
// cluster's key.
const pskInfo = "entgldb cluster psk v1"

// maxNoiseHandshakeFrame caps a NoiseHandshake frame. Ours are 48 bytes (an
// ephemeral key and a tag); the slack leaves room for a later payload.
const maxNoiseHandshakeFrame = 1024

// Noise transport messages are at most noise.MaxMsgLen bytes (the spec's
// limit); a NoiseEnv frame carries as many as its inner frame needs.
const (
	noiseTagSize    = 16
	noiseChunk      = noise.MaxMsgLen
	noiseChunkPlain = noiseChunk - noiseTagSize
)

// The associated data of a transport message says whether it is the last
// of its frame, so cutting a frame short at a message boundary is detected.
var (
	noiseADMore = []byte{0}
	noiseADLast = []byte{1}
)

// noiseAD is the associated data of the transport message ending at end
// of a frame of total bytes.
func noiseAD(end, total int) []byte {
	if end == total {
		return noiseADLast
	}
	return noiseADMore
}

var noiseSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashSHA256)

// DerivePSK turns the configured cluster secret into the 32-byte Noise
// pre-shared key (HKDF-SHA256, no salt, info pskInfo). A passive listener
// can test guesses of the secret against a recorded first handshake
// message, as with any pre-shared key, so the secret must be random (the
// generated join secrets are), never a password.
func DerivePSK(secret []byte) [32]byte {
	k, err := hkdf.Key(sha256.New, secret, nil, pskInfo, 32)
	if err != nil {
		// Only a key length beyond 255 hash blocks fails.
		panic(err)
	}
	return [32]byte(k)
}

// newNoiseHandshake starts a handshake; rng is nil (crypto/rand) except in
// tests and fuzzing, which need repeatable ephemeral keys.
func newNoiseHandshake(initiator bool, psk [32]byte, rng io.Reader) (*noise.HandshakeState, error) {
	if psk == [32]byte{} {
		return nil, domain.Errorf(domain.CodeConfig, "protocol.Noise", "the pre-shared key is all zeros (no cluster secret derived)")
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:           noiseSuite,
		Pattern:               noise.HandshakeNN,
		Initiator:             initiator,
		Prologue:              []byte(NoisePrologue),
		PresharedKey:          psk[:],
		PresharedKeyPlacement: 0,
		Random:                rng,
	})
	if err != nil {
		return nil, domain.Errorf(domain.CodeInternal, "protocol.Noise", "handshake state: %w", err)
	}
	return hs, nil
}

// noiseSealer encrypts or decrypts the NoiseEnv frames of one direction.
// Each frame's plaintext [inner type][inner compression flag][payload] is
// cut into Noise transport messages of at most noiseChunkPlain bytes, each
// encrypted with the next nonce and associated data noiseADLast for the
// last message, noiseADMore for the others; the frame's payload is their
// concatenation, so every message but the last is noiseChunk bytes long.
type noiseSealer struct {
	cs *noise.CipherState
}

func (s *noiseSealer) outer() MsgType { return NoiseEnv }

func (s *noiseSealer) seal(t MsgType, compressed bool, payload []byte) ([]byte, error) {
	plain := appendInner(make([]byte, 0, innerHeader+len(payload)), t, compressed, payload)
	chunks := (len(plain) + noiseChunkPlain - 1) / noiseChunkPlain
	out := make([]byte, 0, len(plain)+chunks*noiseTagSize)
	for off := 0; off < len(plain); off += noiseChunkPlain {
		end := min(off+noiseChunkPlain, len(plain))
		var err error
		if out, err = s.cs.Encrypt(out, noiseAD(end, len(plain)), plain[off:end]); err != nil {
			return nil, domain.Errorf(domain.CodeInternal, "protocol.SealNoise", "encrypt: %w", err)
		}
	}
	return out, nil
}

func (s *noiseSealer) open(payload []byte) (MsgType, bool, []byte, error) {
	const op = "protocol.OpenNoise"
	chunks := (len(payload) + noiseChunk - 1) / noiseChunk
	if chunks == 0 || len(payload)-(chunks-1)*noiseChunk <= noiseTagSize {
		return 0, false, nil, domain.Errorf(domain.CodeNetwork, op, "malformed Noise envelope of %d bytes", len(payload))
	}
	plain := make([]byte, 0, len(payload)-chunks*noiseTagSize)
	for off := 0; off < len(payload); off += noiseChunk {
		end := min(off+noiseChunk, len(payload))
		var err error
		if plain, err = s.cs.Decrypt(plain, noiseAD(end, len(payload)), payload[off:end]); err != nil {
			// One answer whatever failed: the peer learns nothing.
			return 0, false, nil, domain.Errorf(domain.CodeNetwork, op, "Noise envelope failed authentication")
		}
	}
	return splitInner(op, "Noise envelope", plain)
}

// NoiseAsClient runs the Noise handshake as the connecting side (the
// initiator). Call it before any frame. A server without psk refuses the
// first message (CodeUnauthorized); a server that answers without psk
// fails authentication of the second (CodeUnauthorized); either way
// nothing was disclosed and the channel refuses any further use.
func (c *Channel) NoiseAsClient(psk [32]byte) error { return c.noiseHandshake(true, psk) }

// NoiseAsServer runs the Noise handshake as the accepting side (the
// responder). A first message made without psk is answered with an empty
// NoiseHandshake frame (the refusal) and CodeUnauthorized; close the
// connection then.
func (c *Channel) NoiseAsServer(psk [32]byte) error { return c.noiseHandshake(false, psk) }

// ChannelBinding is the Noise handshake hash: the same on both ends of this
// connection, different on any other (a relay runs two handshakes and gets
// two). Identity proofs sign it. nil before NoiseAsClient/NoiseAsServer.
func (c *Channel) ChannelBinding() []byte {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return append([]byte(nil), c.binding...)
}

func (c *Channel) noiseHandshake(initiator bool, psk [32]byte) error {
	const op = "protocol.Noise"
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.out != nil || c.failed.Load() {
		return domain.Errorf(domain.CodeInternal, op, "channel is already secure (or failed its handshake)")
	}
	err := c.runNoise(op, initiator, psk)
	if err != nil {
		// Whatever failed (the key, the network, a deadline), the channel
		// must not go on in the clear.
		c.failed.Store(true)
	}
	return err
}

// runNoise exchanges the two handshake messages; the caller holds both locks.
func (c *Channel) runNoise(op string, initiator bool, psk [32]byte) error {
	hs, err := newNoiseHandshake(initiator, psk, c.noiseRand)
	if err != nil {
		return err
	}
	var send, recv *noise.CipherState
	if initiator {
		msg, _, _, err := hs.WriteMessage(nil, nil)
		if err != nil {
			return domain.Errorf(domain.CodeInternal, op, "first message: %w", err)
		}
		if err := WriteFrame(c.conn, Frame{Type: NoiseHandshake, Payload: msg}); err != nil {
			return err
		}
		in, err := c.readNoiseHandshake(op)
		if err != nil {
			return err
		}
		if len(in) == 0 {
			return domain.Errorf(domain.CodeUnauthorized, op, "the peer refused the handshake: the two nodes hold different cluster keys")
		}
		if _, send, recv, err = hs.ReadMessage(nil, in); err != nil || send == nil {
			return domain.Errorf(domain.CodeUnauthorized, op, "the peer's answer failed authentication: it does not hold the cluster key")
		}
	} else {
		in, err := c.readNoiseHandshake(op)
		if err != nil {
			return err
		}
		if _, _, _, err := hs.ReadMessage(nil, in); err != nil {
			// The refusal tells the peer only what closing would: its
			// first message failed. Best effort: we close either way.
			_ = WriteFrame(c.conn, Frame{Type: NoiseHandshake})
			return domain.Errorf(domain.CodeUnauthorized, op, "the peer's first message failed authentication: it does not hold the cluster key")
		}
		var msg []byte
		if msg, recv, send, err = hs.WriteMessage(nil, nil); err != nil || send == nil {
			return domain.Errorf(domain.CodeInternal, op, "second message: %v", err)
		}
		if err := WriteFrame(c.conn, Frame{Type: NoiseHandshake, Payload: msg}); err != nil {
			return err
		}
	}
	c.binding = append([]byte(nil), hs.ChannelBinding()...)
	c.out, c.in = &noiseSealer{cs: send}, &noiseSealer{cs: recv}
	c.secured.Store(true)
	return nil
}

// readNoiseHandshake reads one NoiseHandshake frame (capped small whatever
// the channel's limits) and returns its payload.
func (c *Channel) readNoiseHandshake(op string) ([]byte, error) {
	f, err := ReadFrame(c.br, min(c.recvLimit(), maxNoiseHandshakeFrame))
	if err != nil {
		return nil, err
	}
	if f.Type != NoiseHandshake || f.Compressed {
		return nil, domain.Errorf(domain.CodeNetwork, op, "expected a NoiseHandshake frame, got %s (compressed %t)", f.Type, f.Compressed)
	}
	return f.Payload, nil
}
