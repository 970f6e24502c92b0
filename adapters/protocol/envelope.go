package protocol

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

const (
	keySize = 32 // AES-256 and HMAC-SHA256 share one 32-byte key per direction
	ivSize  = aes.BlockSize
	tagSize = sha256.Size
)

// errEnvelopeRejected is the single answer to every authentication or
// padding failure, so a peer learns nothing about which check failed
// (no padding oracle).
func errEnvelopeRejected() error {
	return domain.Errorf(domain.CodeNetwork, "protocol.OpenEnvelope", "secure envelope failed authentication")
}

// sealer encrypts and authenticates inner frames with one direction's key.
type sealer struct {
	block cipher.Block
	key   []byte
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != keySize {
		return nil, domain.Errorf(domain.CodeInternal, "protocol.newSealer", "key of %d bytes, want %d", len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, domain.Errorf(domain.CodeInternal, "protocol.newSealer", "aes: %w", err)
	}
	return &sealer{block: block, key: key}, nil
}

// seal wraps an inner frame into a SecureEnvelope payload with a fresh
// random IV (PROTOCOL.md §4.3).
func (s *sealer) seal(t MsgType, compressed bool, payload []byte) ([]byte, error) {
	iv := make([]byte, ivSize)
	if _, err := io.ReadFull(rand.Reader, iv); err != nil {
		return nil, domain.Errorf(domain.CodeInternal, "protocol.Seal", "random IV: %w", err)
	}
	return s.sealWithIV(iv, t, compressed, payload)
}

// sealWithIV is seal with a chosen IV: the known-answer vectors fix it.
func (s *sealer) sealWithIV(iv []byte, t MsgType, compressed bool, payload []byte) ([]byte, error) {
	// plaintext = [type][compression flag][payload], then PKCS#7 padding.
	n := innerHeader + len(payload)
	pad := ivSize - n%ivSize
	buf := appendInner(make([]byte, 0, n+pad), t, compressed, payload)
	for range pad {
		buf = append(buf, byte(pad))
	}
	cipher.NewCBCEncrypter(s.block, iv).CryptBlocks(buf, buf)
	env := &pb.SecureEnvelope{Ciphertext: buf, Nonce: iv, AuthTag: s.tag(iv, buf)}
	out, err := proto.Marshal(env)
	if err != nil {
		return nil, domain.Errorf(domain.CodeInternal, "protocol.Seal", "marshal envelope: %w", err)
	}
	return out, nil
}

func (s *sealer) tag(iv, ciphertext []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(iv)
	m.Write(ciphertext)
	return m.Sum(nil)
}

// open authenticates and decrypts a SecureEnvelope payload. The tag is
// checked in constant time before any decryption; a bad tag and bad padding
// give the same error.
func (s *sealer) open(envelope []byte) (t MsgType, compressed bool, payload []byte, err error) {
	const op = "protocol.OpenEnvelope"
	var env pb.SecureEnvelope
	if err := proto.Unmarshal(envelope, &env); err != nil {
		return 0, false, nil, domain.Errorf(domain.CodeNetwork, op, "malformed secure envelope: %w", err)
	}
	ct := env.GetCiphertext()
	if len(env.GetNonce()) != ivSize || len(env.GetAuthTag()) != tagSize || len(ct) == 0 || len(ct)%ivSize != 0 {
		return 0, false, nil, domain.Errorf(domain.CodeNetwork, op,
			"malformed secure envelope: nonce %d, tag %d, ciphertext %d bytes", len(env.GetNonce()), len(env.GetAuthTag()), len(ct))
	}
	if !hmac.Equal(s.tag(env.GetNonce(), ct), env.GetAuthTag()) {
		return 0, false, nil, errEnvelopeRejected()
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(s.block, env.GetNonce()).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > ivSize {
		return 0, false, nil, errEnvelopeRejected()
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return 0, false, nil, errEnvelopeRejected()
		}
	}
	return splitInner(op, "secure envelope", plain[:len(plain)-pad])
}

// outer is the frame type that carries this sealer's envelopes.
func (s *sealer) outer() MsgType { return SecureEnv }

// innerHeader is the [inner type][inner compression flag] prefix that both
// envelopes (SecureEnv and NoiseEnv) encrypt in front of the payload.
const innerHeader = 2

// appendInner appends the plaintext of an envelope to b.
func appendInner(b []byte, t MsgType, compressed bool, payload []byte) []byte {
	var c byte
	if compressed {
		c = 1
	}
	b = append(b, byte(t), c)
	return append(b, payload...)
}

// splitInner parses a decrypted envelope: only conversation messages may
// travel inside one, never another envelope or a handshake frame.
func splitInner(op, what string, plain []byte) (MsgType, bool, []byte, error) {
	if len(plain) < innerHeader {
		return 0, false, nil, domain.Errorf(domain.CodeNetwork, op, "%s holds %d bytes, want at least %d", what, len(plain), innerHeader)
	}
	t := MsgType(plain[0])
	if !t.Valid() || t.transport() {
		return 0, false, nil, domain.Errorf(domain.CodeNetwork, op, "unknown inner message type %d", plain[0])
	}
	if plain[1] > 1 {
		return 0, false, nil, domain.Errorf(domain.CodeNetwork, op, "unknown inner compression flag %d", plain[1])
	}
	return t, plain[1] == 1, plain[innerHeader:], nil
}
