package tcp

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/adapters/retry"
	"github.com/entgldb/entgldb-go/domain"
)

// noiseHandshake is the Go↔Go handshake: Noise keyed by the cluster PSK
// (only a holder of the key completes it, and the key never travels), then
// the handshake messages carrying each side's identity proof bound to this
// connection. The server's proof is verified and its key checked against
// the one first seen for its node id. No token is ever sent.
func (d *Dialer) noiseHandshake(ctx context.Context, c *conn) (*pb.HandshakeResponse, error) {
	const op = "tcp.Dial"
	trust := d.opts.Trust
	if err := c.ch.NoiseAsClient(trust.PSK); err != nil {
		return nil, handshakeErr(ctx, op, c.address, "Noise handshake failed (is the peer a v5 node? list it in LegacyPeers)", err)
	}
	binding := c.ch.ChannelBinding()
	req := d.handshakeRequest()
	req.Capabilities = clientCapabilities
	if err := trust.Identity.SignRequest(req, binding); err != nil {
		return nil, retry.Permanent(err)
	}
	res, err := d.exchangeHandshake(ctx, c, req)
	if err != nil {
		return nil, err
	}
	key, err := protocol.VerifyResponse(res, binding)
	if err != nil {
		return nil, refusedErr(op, c.address, err)
	}
	if trust.PeerKeys != nil {
		if err := trust.PeerKeys.CheckPeerKey(ctx, res.GetNodeId(), key); err != nil {
			if domain.CodeOf(err) == domain.CodeUnauthorized {
				return nil, refusedErr(op, c.address, err)
			}
			return nil, retry.Permanent(err)
		}
	}
	return res, nil
}

// legacyHandshake is the v5 handshake of the C#/TypeScript family, used
// only with Trust.LegacyPeers: the legacy secure channel when Secure, then
// a request carrying the cluster token.
func (d *Dialer) legacyHandshake(ctx context.Context, c *conn) (*pb.HandshakeResponse, error) {
	const op = "tcp.Dial"
	if d.opts.Secure {
		if err := c.ch.SecureAsClient(); err != nil {
			return nil, handshakeErr(ctx, op, c.address, "key exchange failed (is the peer in plaintext mode?)", err)
		}
	}
	req := d.handshakeRequest()
	req.AuthToken = d.opts.Trust.LegacyToken
	return d.exchangeHandshake(ctx, c, req)
}

func (d *Dialer) handshakeRequest() *pb.HandshakeRequest {
	req := &pb.HandshakeRequest{NodeId: d.opts.Trust.Identity.NodeID, InterestingCollections: d.opts.Interests}
	if d.opts.Compression {
		req.SupportedCompression = []string{compressionBrotli}
	}
	return req
}

// exchangeHandshake sends req and reads the answer, which must accept us.
func (d *Dialer) exchangeHandshake(ctx context.Context, c *conn, req *pb.HandshakeRequest) (*pb.HandshakeResponse, error) {
	const op = "tcp.Dial"
	if err := c.ch.Send(protocol.HandshakeReq, req); err != nil {
		return nil, handshakeErr(ctx, op, c.address, "sending handshake failed", err)
	}
	t, payload, err := c.ch.Recv()
	if err != nil {
		hint := "no handshake response"
		if !c.ch.Secure() {
			hint = "no handshake response (is the peer in secure mode?)"
		}
		return nil, handshakeErr(ctx, op, c.address, hint, err)
	}
	if t != protocol.HandshakeRes {
		return nil, retry.Permanent(domain.Errorf(domain.CodeNetwork, op,
			"peer %s answered the handshake with message type %d (secure/plaintext mismatch?)", c.address, t))
	}
	var res pb.HandshakeResponse
	if err := proto.Unmarshal(payload, &res); err != nil {
		return nil, retry.Permanent(domain.Errorf(domain.CodeNetwork, op, "peer %s sent a malformed handshake response: %w", c.address, err))
	}
	if !res.GetAccepted() {
		return nil, refusedErr(op, c.address, domain.Errorf(domain.CodeUnauthorized, op,
			"cluster key rejected by peer (or it refused our node id %q or identity key)", d.opts.Trust.Identity.NodeID))
	}
	return &res, nil
}

// refusedErr is a handshake one side refused: UNAUTHORIZED, never retried
// (another attempt would be refused the same way).
func refusedErr(op, address string, err error) error {
	return retry.Permanent(domain.Errorf(domain.CodeUnauthorized, op, "peer %s: %w", address, err))
}
