package protocol

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// maxKeyMessage bounds the peer's announced key length (PROTOCOL.md §4.1).
const maxKeyMessage = 10000

// sessionKeys are the two direction keys of a secure channel.
type sessionKeys struct {
	K1, K2 []byte // K1: connecting side → accepting side; K2: the reverse
}

// deriveKeys turns the ECDH shared x-coordinate into K1 and K2:
// S = SHA-256(Z), K1 = SHA-256(S‖0x00), K2 = SHA-256(S‖0x01).
func deriveKeys(z []byte) (s []byte, keys sessionKeys) {
	sum := sha256.Sum256(z)
	s = sum[:]
	k1 := sha256.Sum256(append(append([]byte{}, s...), 0x00))
	k2 := sha256.Sum256(append(append([]byte{}, s...), 0x01))
	return s, sessionKeys{K1: k1[:], K2: k2[:]}
}

// keyMessage is the 4-byte little-endian length plus the SPKI DER of pub.
func keyMessage(pub *ecdh.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, domain.Errorf(domain.CodeInternal, "protocol.keyMessage", "encoding public key: %w", err)
	}
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(der))), der...), nil
}

// parsePeerKey decodes an SPKI DER P-256 public key.
func parsePeerKey(der []byte) (*ecdh.PublicKey, error) {
	const op = "protocol.KeyExchange"
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, domain.Errorf(domain.CodeNetwork, op, "peer public key: %w", err)
	}
	ek, ok := key.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, domain.Errorf(domain.CodeNetwork, op, "peer public key is %T, want a P-256 key", key)
	}
	pub, err := ek.ECDH()
	if err != nil {
		return nil, domain.Errorf(domain.CodeNetwork, op, "peer public key: %w", err)
	}
	return pub, nil
}

// readKeyMessage reads the peer's length-prefixed SPKI DER key.
func readKeyMessage(r io.Reader) (*ecdh.PublicKey, error) {
	const op = "protocol.KeyExchange"
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, ioError(op, "reading peer key length", err)
	}
	n := int32(binary.LittleEndian.Uint32(lb[:]))
	if n < 1 || n > maxKeyMessage {
		return nil, domain.Errorf(domain.CodeNetwork, op, "peer key length %d outside 1..%d", n, maxKeyMessage)
	}
	der := make([]byte, n)
	if _, err := io.ReadFull(r, der); err != nil {
		return nil, ioError(op, "reading peer key", err)
	}
	return parsePeerKey(der)
}

// keyExchange runs §4.1–4.2 over conn with priv: both sides write their key
// at once, then read the other's. The write runs beside the read so that
// even an unbuffered transport (net.Pipe) cannot deadlock.
func keyExchange(conn net.Conn, priv *ecdh.PrivateKey) (sessionKeys, error) {
	const op = "protocol.KeyExchange"
	msg, err := keyMessage(priv.PublicKey())
	if err != nil {
		return sessionKeys{}, err
	}
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(msg)
		werr <- err
	}()
	peer, rerr := readKeyMessage(conn)
	if rerr != nil {
		// Unblock a writer stuck on a peer that stopped reading, then wait
		// for it: the goroutine must not outlive this call.
		_ = conn.SetWriteDeadline(time.Now())
		<-werr
		_ = conn.SetWriteDeadline(time.Time{})
		return sessionKeys{}, rerr
	}
	if err := <-werr; err != nil {
		return sessionKeys{}, ioError(op, "writing own key", err)
	}
	z, err := priv.ECDH(peer)
	if err != nil {
		return sessionKeys{}, domain.Errorf(domain.CodeNetwork, op, "ECDH: %w", err)
	}
	_, keys := deriveKeys(z)
	return keys, nil
}

func newEphemeralKey() (*ecdh.PrivateKey, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, domain.Errorf(domain.CodeInternal, "protocol.KeyExchange", "generating key: %w", err)
	}
	return k, nil
}
