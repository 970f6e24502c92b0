package protocol

import (
	"bytes"
	"crypto/ecdh"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tcpPair returns both ends of a real loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	// A hung test fails at the deadline instead of blocking the suite.
	deadline := time.Now().Add(10 * time.Second)
	require.NoError(t, client.SetDeadline(deadline))
	require.NoError(t, server.SetDeadline(deadline))
	return client, server
}

// securePair runs the key exchange on both ends concurrently, optionally
// with fixed private keys.
func securePair(t testing.TB, cPriv, sPriv *ecdh.PrivateKey) (*Channel, *Channel) {
	t.Helper()
	c, s := tcpPair(t)
	cc, sc := NewChannel(c, 0), NewChannel(s, 0)
	errc := make(chan error, 1)
	go func() { errc <- sc.secure(false, sPriv) }()
	require.NoError(t, cc.secure(true, cPriv))
	require.NoError(t, <-errc)
	require.True(t, cc.Secure())
	require.True(t, sc.Secure())
	return cc, sc
}

func bigChangeSet(n int) *pb.ChangeSetResponse {
	cs := &pb.ChangeSetResponse{}
	for i := range n {
		cs.Entries = append(cs.Entries, &pb.ProtoOplogEntry{
			Collection: "orders", Key: "o" + strings.Repeat("x", i%7), Operation: "Put",
			JsonData: `{"item":"widget","note":"the same words again and again"}`,
			HlcWall:  1795594600000 + int64(i), HlcNode: "node-a",
		})
	}
	return cs
}

func roundTrip(t *testing.T, from, to *Channel, typ MsgType, m proto.Message) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- from.Send(typ, m) }()
	gotType, got, err := to.RecvMessage()
	require.NoError(t, err)
	require.NoError(t, <-errc)
	assert.Equal(t, typ, gotType)
	assert.True(t, proto.Equal(m, got), "got %v", got)
}

func TestChannelPlaintextRoundTrip(t *testing.T) {
	c, s := tcpPair(t)
	cc, sc := NewChannel(c, 0), NewChannel(s, 0)
	roundTrip(t, cc, sc, HandshakeReq, &pb.HandshakeRequest{NodeId: "a", AuthToken: "k", SupportedCompression: []string{"brotli"}})
	roundTrip(t, sc, cc, HandshakeRes, &pb.HandshakeResponse{NodeId: "b", Accepted: true, SelectedCompression: "brotli"})
	roundTrip(t, cc, sc, GetClockReq, &pb.GetClockRequest{}) // empty payload, N = 0
	cc.SetCompression(true)
	sc.SetCompression(true)
	roundTrip(t, cc, sc, PushChangesReq, &pb.PushChangesRequest{Entries: bigChangeSet(200).Entries})
	roundTrip(t, sc, cc, ChangeSetRes, bigChangeSet(3))
}

// Compression applies only above the threshold and only once enabled.
func TestChannelCompressesLargePayloadsOnly(t *testing.T) {
	c, s := tcpPair(t)
	cc := NewChannel(c, 0)
	big := bigChangeSet(100)
	small := bigChangeSet(1)
	require.Greater(t, proto.Size(big), CompressThreshold)
	require.LessOrEqual(t, proto.Size(small), CompressThreshold)

	send := func(m proto.Message) Frame {
		errc := make(chan error, 1)
		go func() { errc <- cc.Send(ChangeSetRes, m) }()
		f, err := ReadFrame(s, DefaultMaxFrameBytes)
		require.NoError(t, err)
		require.NoError(t, <-errc)
		return f
	}
	assert.False(t, send(big).Compressed, "not negotiated yet")
	cc.SetCompression(true)
	f := send(big)
	assert.True(t, f.Compressed)
	assert.Less(t, len(f.Payload), proto.Size(big)/3, "JSON change sets compress well")
	assert.False(t, send(small).Compressed)
}

// A payload the caller compressed goes as a compressed frame, with the
// channel's own compression off, and arrives as it was before compression.
func TestChannelSendCompressed(t *testing.T) {
	cc, sc := securePair(t, nil, nil)
	cc.MarkAuthenticated()
	sc.MarkAuthenticated()
	payload, err := proto.Marshal(bigChangeSet(100))
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { errc <- cc.SendCompressed(ChangeSetRes, Compress(payload, 2)) }()
	got, data, err := sc.Recv()
	require.NoError(t, err)
	require.NoError(t, <-errc)
	assert.Equal(t, ChangeSetRes, got)
	assert.Equal(t, payload, data)
	assert.False(t, cc.Compressing(), "SendCompressed leaves the channel's setting alone")
}

func TestChannelSecureRoundTrip(t *testing.T) {
	cc, sc := securePair(t, nil, nil)
	roundTrip(t, cc, sc, HandshakeReq, &pb.HandshakeRequest{NodeId: "a", AuthToken: "k"})
	roundTrip(t, sc, cc, HandshakeRes, &pb.HandshakeResponse{NodeId: "b", Accepted: true})
	roundTrip(t, cc, sc, GetVectorClockReq, &pb.GetVectorClockRequest{})
	cc.SetCompression(true)
	sc.SetCompression(true)
	roundTrip(t, sc, cc, ChangeSetRes, bigChangeSet(300))
	roundTrip(t, cc, sc, PushChangesReq, &pb.PushChangesRequest{Entries: bigChangeSet(300).Entries})
}

// With the vectors' private keys, a channel opens the reference's sealed
// frames as they arrive on the socket, in both directions.
func TestChannelSecureOpensVectorFrames(t *testing.T) {
	v := loadVectors(t).Secure
	cPriv, err := ecdh.P256().NewPrivateKey(v.ConnectingPrivateKey)
	require.NoError(t, err)
	sPriv, err := ecdh.P256().NewPrivateKey(v.AcceptingPrivateKey)
	require.NoError(t, err)
	cc, sc := securePair(t, cPriv, sPriv)
	for _, m := range v.Messages {
		from, to := cc, sc
		if m.Key == "K2" {
			from, to = sc, cc
		}
		_, err := from.Conn().Write(m.Frame)
		require.NoError(t, err)
		typ, payload, err := to.Recv()
		require.NoError(t, err, m.Name)
		assert.Equal(t, MsgType(m.InnerType), typ)
		assert.Equal(t, []byte(m.Payload), payload)
	}
	_, err = cc.Conn().Write(v.Tampered.Frame)
	require.NoError(t, err)
	_, _, err = sc.Recv()
	assert.Equal(t, errEnvelopeRejected(), err)
}

// A tag that verifies over bad padding gets the very same error as a bad
// tag, so a peer cannot tell the two apart.
func TestEnvelopeBadPaddingIndistinguishable(t *testing.T) {
	key := bytes.Repeat([]byte{7}, keySize)
	sl, err := newSealer(key)
	require.NoError(t, err)
	iv := make([]byte, ivSize)
	ct := make([]byte, 2*ivSize) // decrypts to noise: padding byte almost surely invalid
	for i := range ct {
		ct[i] = byte(i * 31)
	}
	env, err := proto.Marshal(&pb.SecureEnvelope{Ciphertext: ct, Nonce: iv, AuthTag: sl.tag(iv, ct)})
	require.NoError(t, err)
	_, _, _, padErr := sl.open(env)
	require.Error(t, padErr)

	good, err := sl.sealWithIV(iv, AckRes, false, []byte{8, 1})
	require.NoError(t, err)
	var e pb.SecureEnvelope
	require.NoError(t, proto.Unmarshal(good, &e))
	e.AuthTag[0] ^= 1
	bad, err := proto.Marshal(&e)
	require.NoError(t, err)
	_, _, _, tagErr := sl.open(bad)
	require.Error(t, tagErr)
	assert.Equal(t, tagErr.Error(), padErr.Error())
	assert.Equal(t, domain.CodeOf(tagErr), domain.CodeOf(padErr))
}

func TestChannelModeMismatch(t *testing.T) {
	t.Run("plaintext frame on a secure channel", func(t *testing.T) {
		cc, sc := securePair(t, nil, nil)
		require.NoError(t, WriteFrame(cc.Conn(), Frame{Type: GetClockReq}))
		_, _, err := sc.Recv()
		assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	})
	t.Run("secure envelope on a plaintext channel", func(t *testing.T) {
		c, s := tcpPair(t)
		require.NoError(t, WriteFrame(c, Frame{Type: SecureEnv, Payload: []byte{0x0a, 0}}))
		_, _, err := NewChannel(s, 0).Recv()
		assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	})
}

func TestChannelRefusesBrotliBomb(t *testing.T) {
	bomb := loadVectors(t).BrotliBomb.Frame
	c, s := tcpPair(t)
	_, err := c.Write(bomb)
	require.NoError(t, err)
	var recvErr error
	n := allocated(func() { _, _, recvErr = NewChannel(s, 1<<20).Recv() })
	assert.Equal(t, domain.CodeTooLarge, domain.CodeOf(recvErr))
	assert.Less(t, n, uint64(8<<20))
}

func TestKeyExchangeRejectsBadKeys(t *testing.T) {
	for name, msg := range map[string][]byte{
		"zero length":     binary.LittleEndian.AppendUint32(nil, 0),
		"huge length":     binary.LittleEndian.AppendUint32(nil, 10001),
		"negative length": binary.LittleEndian.AppendUint32(nil, 0xffffffff),
		"garbage DER":     append(binary.LittleEndian.AppendUint32(nil, 3), 1, 2, 3),
	} {
		t.Run(name, func(t *testing.T) {
			c, s := tcpPair(t)
			go func() {
				// The peer's key must be drained or the write could block.
				buf := make([]byte, 95)
				_, _ = c.Read(buf)
				_, _ = c.Write(msg)
			}()
			err := NewChannel(s, 0).SecureAsServer()
			require.Error(t, err)
			assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
		})
	}
}

func TestReadFrameRejects(t *testing.T) {
	hdr := func(n int32, typ, comp byte) []byte {
		return append(binary.LittleEndian.AppendUint32(nil, uint32(n)), typ, comp)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		code domain.Code
	}{
		{"negative length", hdr(-1, 1, 0), domain.CodeNetwork},
		{"over the cap", hdr(1025, 6, 0), domain.CodeTooLarge},
		{"unknown type 0", hdr(0, 0, 0), domain.CodeNetwork},
		{"unknown type 18", hdr(0, 18, 0), domain.CodeNetwork},
		{"unknown compression", hdr(0, 3, 2), domain.CodeNetwork},
		{"truncated header", []byte{1, 0, 0}, domain.CodeNetwork},
		{"truncated payload", append(hdr(10, 6, 0), 1, 2, 3), domain.CodeNetwork},
		{"empty stream", nil, domain.CodeNetwork},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tc.in), 1024)
			require.Error(t, err)
			assert.Equal(t, tc.code, domain.CodeOf(err), err.Error())
		})
	}
	t.Run("exactly the cap", func(t *testing.T) {
		f, err := ReadFrame(bytes.NewReader(append(hdr(1024, 15, 0), make([]byte, 1024)...)), 1024)
		require.NoError(t, err)
		assert.Len(t, f.Payload, 1024)
	})
	t.Run("a big announced length costs only what arrives", func(t *testing.T) {
		in := append(hdr(DefaultMaxFrameBytes, 6, 0), make([]byte, 100_000)...)
		var err error
		n := allocated(func() { _, err = ReadFrame(bytes.NewReader(in), DefaultMaxFrameBytes) })
		assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
		assert.Less(t, n, uint64(1<<20), "allocated %d bytes for 100 kB received", n)
	})
	t.Run("large payload arriving in pieces", func(t *testing.T) {
		payload := bytes.Repeat([]byte("abc"), 100_000)
		f, err := ReadFrame(bytes.NewReader(AppendFrame(nil, Frame{Type: SnapshotChunkMsg, Payload: payload})), DefaultMaxFrameBytes)
		require.NoError(t, err)
		assert.Equal(t, payload, f.Payload)
	})
}

func TestReadFrameTimeoutIsTimeoutError(t *testing.T) {
	_, s := tcpPair(t)
	require.NoError(t, s.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err := ReadFrame(s, DefaultMaxFrameBytes)
	assert.Equal(t, domain.CodeTimeout, domain.CodeOf(err))
}

func TestMsgTypeString(t *testing.T) {
	assert.Equal(t, "HandshakeReq", HandshakeReq.String())
	assert.Equal(t, "SnapshotChunkMsg", SnapshotChunkMsg.String())
	assert.Equal(t, "NoiseEnv", NoiseEnv.String())
	assert.Equal(t, "MsgType(18)", MsgType(18).String())
	for typ := HandshakeReq; typ <= SnapshotChunkMsg; typ++ {
		assert.NotNil(t, NewMessage(typ), typ.String())
	}
	assert.Nil(t, NewMessage(0))
	// The Noise frames carry raw bytes, never a message.
	assert.Nil(t, NewMessage(NoiseHandshake))
	assert.Nil(t, NewMessage(NoiseEnv))
}
