package tcp

import (
	"crypto/subtle"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// handshake tells the peer's mode from its first bytes and runs that
// handshake under HandshakeTimeout: Noise with identity proofs for Go
// nodes; the v5 handshake (the token, plain or in the legacy secure
// channel) only from a LegacyPeers source. It answers nothing but a
// handshake, and lifts the pre-authentication limits only on success.
func (c *serverConn) handshake() bool {
	o := c.s.opts
	if err := c.conn.SetDeadline(time.Now().Add(o.HandshakeTimeout)); err != nil || c.s.stopping.Load() {
		return false
	}
	hello, err := c.ch.PeekHello()
	if err != nil {
		c.refuseErr(err, "no handshake from peer")
		return false
	}
	var ok bool
	switch hello {
	case protocol.HelloNoise:
		ok = c.noiseHandshake()
	case protocol.HelloLegacySecure, protocol.HelloLegacyPlain:
		// Refused before a single frame is read: a stranger's token is
		// never looked at.
		if !c.s.legacy.allowed(c.src) {
			c.refuse(refusedLegacy, zap.Stringer("mode", hello))
			return false
		}
		ok = c.legacyHandshake()
	default:
		c.refuse(refusedMalformed)
	}
	if !ok {
		return false
	}
	// Each request sets its own deadlines from here on.
	_ = c.conn.SetDeadline(time.Time{})
	return true
}

// noiseHandshake proves membership with the Noise handshake, then checks
// the peer's identity proof and its key against the one first seen for its
// node id, and answers with our own proof.
func (c *serverConn) noiseHandshake() bool {
	trust := c.s.opts.Trust
	if err := c.ch.NoiseAsServer(trust.PSK); err != nil {
		c.refuseErr(err, "Noise handshake failed")
		return false
	}
	req, ok := c.recvHandshakeReq()
	if !ok {
		return false
	}
	binding := c.ch.ChannelBinding()
	key, err := protocol.VerifyRequest(req, binding)
	if err != nil {
		c.refuseAnswer(refusedBadProof, req)
		return false
	}
	if req.GetNodeId() == trust.Identity.NodeID {
		c.refuseAnswer(refusedSelf, req)
		return false
	}
	if trust.PeerKeys != nil {
		if err := trust.PeerKeys.CheckPeerKey(c.s.ctx, req.GetNodeId(), key); err != nil {
			if domain.CodeOf(err) != domain.CodeUnauthorized {
				c.log.Warn("checking the peer's identity key failed; closing", zap.Error(err))
				return false
			}
			c.refuseAnswer(refusedIdentity, req, zap.String("key", protocol.Fingerprint(key)))
			return false
		}
	}
	res := c.accept(req)
	res.Capabilities = c.s.capabilities()
	if err := trust.Identity.SignResponse(res, binding); err != nil {
		c.log.Error("signing the handshake response failed", zap.Error(err))
		return false
	}
	return c.sendHandshakeRes(res)
}

// legacyHandshake is the v5 handshake of the C#/TypeScript family: the
// legacy secure channel when Secure, then a HandshakeReq whose token must
// be LegacyToken.
func (c *serverConn) legacyHandshake() bool {
	o := c.s.opts
	if o.Secure {
		if err := c.ch.SecureAsServer(); err != nil {
			c.refuseErr(err, "key exchange failed (is the peer in plaintext mode?)")
			return false
		}
	}
	req, ok := c.recvHandshakeReq()
	if !ok {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(req.GetAuthToken()), []byte(o.Trust.LegacyToken)) != 1 {
		c.refuseAnswer(refusedWrongKey, req)
		return false
	}
	if req.GetNodeId() == o.Trust.Identity.NodeID {
		c.refuseAnswer(refusedSelf, req)
		return false
	}
	// Its entries carry no proof of their authors: the handler takes them
	// as legacy ones.
	c.peer.Legacy = true
	return c.sendHandshakeRes(c.accept(req))
}

// recvHandshakeReq reads the peer's first message, which must be a
// HandshakeReq naming a node id.
func (c *serverConn) recvHandshakeReq() (*pb.HandshakeRequest, bool) {
	t, payload, err := c.ch.Recv()
	if code := domain.CodeOf(err); code == domain.CodeUnauthorized || code == domain.CodeTooLarge {
		// A compressed or oversized frame before authentication: refused
		// unread, and no sign of a wrong key.
		c.refuse(refusedMalformed, zap.Error(err))
		return nil, false
	}
	if err != nil {
		hint := "no handshake from peer"
		if !c.ch.Secure() && !isClosedConn(err) {
			hint = "no handshake from peer (is it in secure mode?)"
		}
		c.refuseErr(err, hint)
		return nil, false
	}
	if t != protocol.HandshakeReq {
		c.refuse(refusedMalformed, zap.Int("type", int(t)))
		return nil, false
	}
	var req pb.HandshakeRequest
	if err := proto.Unmarshal(payload, &req); err != nil {
		c.refuse(refusedMalformed, zap.Error(err))
		return nil, false
	}
	if req.GetNodeId() == "" {
		c.refuseAnswer(refusedMalformed, &req)
		return nil, false
	}
	return &req, true
}

// accept admits the peer of req: the pre-authentication limits are lifted,
// its slot can no longer be evicted, and the answer (compression chosen)
// is returned for the caller to sign and send.
func (c *serverConn) accept(req *pb.HandshakeRequest) *pb.HandshakeResponse {
	o := c.s.opts
	res := &pb.HandshakeResponse{NodeId: o.Trust.Identity.NodeID, Accepted: true, InterestingCollections: c.interestsFor()}
	compress := false
	if o.Compression {
		for _, alg := range req.GetSupportedCompression() {
			if strings.EqualFold(alg, compressionBrotli) {
				compress = true
				res.SelectedCompression = compressionBrotli
				break
			}
		}
	}
	c.ch.MarkAuthenticated()
	c.s.authenticated(c.conn)
	c.ch.SetCompression(compress)
	c.peer.NodeID = req.GetNodeId()
	c.peer.Interests = req.GetInterestingCollections()
	c.log = c.log.With(zap.String("peer", protocol.Truncate(c.peer.NodeID, protocol.LogFieldMax)))
	c.log.Debug("handshake accepted", zap.Bool("compression", compress), zap.Bool("noise", c.ch.ChannelBinding() != nil))
	return res
}

func (c *serverConn) sendHandshakeRes(res *pb.HandshakeResponse) bool {
	if err := c.ch.Send(protocol.HandshakeRes, res); err != nil {
		c.log.Warn("writing handshake response failed", zap.Error(err))
		return false
	}
	return true
}

// refuseAnswer refuses a well-formed handshake request: the peer is told
// (accepted false), then the connection closes.
func (c *serverConn) refuseAnswer(why refusal, req *pb.HandshakeRequest, fields ...zap.Field) {
	// Counted before the answer, so a peer that reads it finds it counted.
	c.refuse(why, append(fields, zap.String("peer", protocol.Truncate(req.GetNodeId(), protocol.LogFieldMax)))...)
	// Best effort: the connection closes either way.
	_ = c.ch.Send(protocol.HandshakeRes, &pb.HandshakeResponse{NodeId: c.s.opts.Trust.Identity.NodeID})
}

// refuseErr refuses after a failed read or key exchange, classified by err:
// a passed deadline, a wrong key, a peer that just left (not counted), or
// bytes of no known handshake.
func (c *serverConn) refuseErr(err error, hint string) {
	switch {
	case c.s.stopping.Load():
	case isTimeout(err):
		c.refuse(refusedTimeout, zap.String("detail", hint))
	case domain.CodeOf(err) == domain.CodeUnauthorized:
		c.refuse(refusedWrongKey, zap.String("detail", hint))
	case isClosedConn(err):
		c.log.Debug(hint, zap.Error(err))
	default:
		c.refuse(refusedMalformed, zap.String("detail", hint), zap.Error(err))
	}
}

// refuse counts a refused handshake and logs it: at Warn once a minute per
// source, at Debug otherwise, so strangers cannot flood the log.
func (c *serverConn) refuse(why refusal, fields ...zap.Field) {
	c.s.refused[why].Add(1)
	fields = append(fields, zap.String("reason", why.String()))
	if c.s.refusalLog.allow(c.src, time.Now()) {
		c.log.Warn("handshake refused", fields...)
	} else {
		c.log.Debug("handshake refused", fields...)
	}
}
