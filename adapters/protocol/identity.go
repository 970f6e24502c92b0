package protocol

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// Identity is a node's long-term identity: its node id and the ed25519 key
// it proves in every handshake. Peers remember the key they first saw for a
// node id and refuse another one (the caller keeps that table).
type Identity struct {
	NodeID  string
	Private ed25519.PrivateKey
}

// Public returns the identity's public key.
func (id Identity) Public() ed25519.PublicKey {
	return id.Private.Public().(ed25519.PublicKey)
}

// Role says which end of a connection signed a proof, so the client's proof
// cannot be reflected back as the server's.
type Role byte

const (
	RoleClient Role = 1
	RoleServer Role = 2
)

// identityContext starts every signed proof; the version lets a later proof
// format never verify as this one.
const identityContext = "entgldb identity v1"

// bindingSize is the length of a Noise channel binding (a SHA-256 hash).
const bindingSize = sha256.Size

// identityMessage is what a proof signs:
// "entgldb identity v1" ‖ role ‖ channel binding (32 bytes) ‖ node id.
// The binding is fixed-length, so the node id, last, is unambiguous.
func identityMessage(role Role, binding []byte, nodeID string) []byte {
	m := make([]byte, 0, len(identityContext)+1+len(binding)+len(nodeID))
	m = append(m, identityContext...)
	m = append(m, byte(role))
	m = append(m, binding...)
	return append(m, nodeID...)
}

// Prove signs the identity proof for this connection (its ChannelBinding)
// in the given role.
func (id Identity) Prove(role Role, binding []byte) ([]byte, error) {
	const op = "protocol.Prove"
	if len(id.Private) != ed25519.PrivateKeySize {
		return nil, domain.Errorf(domain.CodeConfig, op, "identity key of %d bytes, want %d", len(id.Private), ed25519.PrivateKeySize)
	}
	if len(binding) != bindingSize {
		return nil, domain.Errorf(domain.CodeInternal, op, "channel binding of %d bytes, want %d (is the channel a Noise channel?)", len(binding), bindingSize)
	}
	return ed25519.Sign(id.Private, identityMessage(role, binding, id.NodeID)), nil
}

// VerifyProof checks that proof was made with pub's private key by the
// given role for nodeID on the connection whose ChannelBinding is binding.
// Any failure is an UNAUTHORIZED error that says only that.
func VerifyProof(pub ed25519.PublicKey, role Role, binding []byte, nodeID string, proof []byte) error {
	if len(pub) != ed25519.PublicKeySize || len(binding) != bindingSize || len(proof) != ed25519.SignatureSize ||
		isSmallOrderKey(pub) || !ed25519.Verify(pub, identityMessage(role, binding, nodeID), proof) {
		return domain.Errorf(domain.CodeUnauthorized, "protocol.VerifyProof", "the identity proof of node %q does not verify", Truncate(nodeID, LogFieldMax))
	}
	return nil
}

// SignRequest fills the identity fields of the client's handshake request,
// whose node_id must be the identity's.
func (id Identity) SignRequest(req *pb.HandshakeRequest, binding []byte) (err error) {
	req.IdentityKey, req.IdentityProof, err = id.fields("protocol.SignRequest", req.GetNodeId(), RoleClient, binding)
	return err
}

// SignResponse fills the identity fields of the server's handshake response.
func (id Identity) SignResponse(res *pb.HandshakeResponse, binding []byte) (err error) {
	res.IdentityKey, res.IdentityProof, err = id.fields("protocol.SignResponse", res.GetNodeId(), RoleServer, binding)
	return err
}

// fields returns identity_key and identity_proof for a handshake message
// that names nodeID.
func (id Identity) fields(op, nodeID string, role Role, binding []byte) (key, proof []byte, err error) {
	if nodeID != id.NodeID {
		return nil, nil, domain.Errorf(domain.CodeInternal, op, "message names node %q, the identity is %q", nodeID, id.NodeID)
	}
	if proof, err = id.Prove(role, binding); err != nil {
		return nil, nil, err
	}
	return id.Public(), proof, nil
}

// VerifyRequest checks the client's identity proof on this connection and
// returns the key it proved for req.node_id: the caller then compares it
// with the key it remembers for that node id.
func VerifyRequest(req *pb.HandshakeRequest, binding []byte) (ed25519.PublicKey, error) {
	return verifyFields(req.GetIdentityKey(), RoleClient, binding, req.GetNodeId(), req.GetIdentityProof())
}

// VerifyResponse checks the server's identity proof on this connection and
// returns the key it proved for res.node_id.
func VerifyResponse(res *pb.HandshakeResponse, binding []byte) (ed25519.PublicKey, error) {
	return verifyFields(res.GetIdentityKey(), RoleServer, binding, res.GetNodeId(), res.GetIdentityProof())
}

func verifyFields(key []byte, role Role, binding []byte, nodeID string, proof []byte) (ed25519.PublicKey, error) {
	if err := VerifyProof(key, role, binding, nodeID, proof); err != nil {
		return nil, err
	}
	return ed25519.PublicKey(key), nil
}

// Fingerprint is a short printable name of an identity key for logs and
// the peer table: the hex of the first 8 bytes of its SHA-256.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}
