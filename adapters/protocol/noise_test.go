package protocol

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/flynn/noise"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

var (
	testPSK  = DerivePSK([]byte("the cluster secret of the tests"))
	otherPSK = DerivePSK([]byte("another cluster's secret"))
)

// noiseHandshakes runs both ends of the Noise handshake concurrently and
// returns the client's and the server's error.
func noiseHandshakes(cc, sc *Channel, cpsk, spsk [32]byte) (cerr, serr error) {
	errc := make(chan error, 1)
	go func() { errc <- sc.NoiseAsServer(spsk) }()
	cerr = cc.NoiseAsClient(cpsk)
	if cerr != nil {
		// The server may wait for a message the client will never send.
		_ = cc.Conn().Close()
	}
	return cerr, <-errc
}

// noisePair returns two channels over loopback TCP that completed the
// handshake with the same key.
func noisePair(t testing.TB, opts ...ChannelOption) (*Channel, *Channel) {
	t.Helper()
	c, s := tcpPair(t)
	cc, sc := NewChannel(c, 0, opts...), NewChannel(s, 0, opts...)
	cerr, serr := noiseHandshakes(cc, sc, testPSK, testPSK)
	require.NoError(t, cerr)
	require.NoError(t, serr)
	return cc, sc
}

func TestNoiseRoundTrip(t *testing.T) {
	cc, sc := noisePair(t)
	require.True(t, cc.Secure())
	require.True(t, sc.Secure())
	require.Len(t, cc.ChannelBinding(), 32)
	assert.Equal(t, cc.ChannelBinding(), sc.ChannelBinding(), "both ends see the same handshake hash")

	hello := &pb.HandshakeRequest{NodeId: "go-1", SupportedCompression: []string{CompressionBrotli}}
	roundTrip(t, cc, sc, HandshakeReq, hello)
	roundTrip(t, sc, cc, HandshakeRes, &pb.HandshakeResponse{NodeId: "go-2", Accepted: true})
	roundTrip(t, cc, sc, GetClockReq, &pb.GetClockRequest{}) // empty payload
	// Bigger than one Noise transport message: several per frame.
	big := bigChangeSet(3000)
	require.Greater(t, proto.Size(big), 3*noiseChunkPlain)
	roundTrip(t, sc, cc, ChangeSetRes, big)

	cc.SetCompression(true)
	sc.SetCompression(true)
	roundTrip(t, cc, sc, PushChangesReq, &pb.PushChangesRequest{Entries: big.Entries})
	roundTrip(t, sc, cc, ChangeSetRes, big)
}

func TestNoiseFramesAreEncrypted(t *testing.T) {
	c, s := tcpPair(t)
	cc, sc := NewChannel(c, 0), NewChannel(s, 0)
	cerr, serr := noiseHandshakes(cc, sc, testPSK, testPSK)
	require.NoError(t, cerr)
	require.NoError(t, serr)
	// What the client writes is NoiseEnv frames; read them raw.
	errc := make(chan error, 1)
	go func() { errc <- cc.Send(HandshakeReq, &pb.HandshakeRequest{NodeId: "plaintext-marker"}) }()
	f, err := ReadFrame(sc.br, DefaultMaxFrameBytes)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	assert.Equal(t, NoiseEnv, f.Type)
	assert.False(t, f.Compressed)
	assert.NotContains(t, string(f.Payload), "plaintext-marker")
}

func TestNoiseEnvelopeTampering(t *testing.T) {
	send, recv := noiseSealers(t)
	payload := bytes.Repeat([]byte("p"), 2*noiseChunkPlain+10) // three transport messages
	env, err := send.seal(ChangeSetRes, false, payload)
	require.NoError(t, err)
	require.Len(t, env, len(payload)+innerHeader+3*noiseTagSize)

	for name, bad := range map[string][]byte{
		"a flipped bit":               flip(env, 100),
		"cut after the first message": env[:noiseChunk],
		"cut inside the last message": env[:len(env)-1],
		"empty":                       nil,
		"only a tag":                  make([]byte, noiseTagSize),
	} {
		t.Run(name, func(t *testing.T) {
			_, recv := noiseSealers(t)
			_, _, _, err := recv.open(bad)
			require.Error(t, err)
			assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
		})
	}
	typ, compressed, got, err := recv.open(env)
	require.NoError(t, err)
	assert.Equal(t, ChangeSetRes, typ)
	assert.False(t, compressed)
	assert.Equal(t, payload, got)
	// A replayed frame fails: the nonce moved on.
	_, _, _, err = recv.open(env)
	require.Error(t, err)
}

// noiseSealers returns the client's sending and the server's receiving
// direction of one completed handshake, run in memory.
func noiseSealers(t *testing.T) (send, recv *noiseSealer) {
	t.Helper()
	ini, err := newNoiseHandshake(true, testPSK, nil)
	require.NoError(t, err)
	res, err := newNoiseHandshake(false, testPSK, nil)
	require.NoError(t, err)
	m1, _, _, err := ini.WriteMessage(nil, nil)
	require.NoError(t, err)
	_, _, _, err = res.ReadMessage(nil, m1)
	require.NoError(t, err)
	m2, rRecv, _, err := res.WriteMessage(nil, nil)
	require.NoError(t, err)
	_, iSend, _, err := ini.ReadMessage(nil, m2)
	require.NoError(t, err)
	return &noiseSealer{cs: iSend}, &noiseSealer{cs: rRecv}
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 1
	return out
}

func TestNoiseWrongKey(t *testing.T) {
	c, s := tcpPair(t)
	cc, sc := NewChannel(c, 0), NewChannel(s, 0)
	cerr, serr := noiseHandshakes(cc, sc, testPSK, otherPSK)
	require.Error(t, cerr)
	require.Error(t, serr)
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(cerr), cerr.Error())
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(serr), serr.Error())
	assert.False(t, cc.Secure())
	assert.False(t, sc.Secure())
	assert.Nil(t, sc.ChannelBinding())

	// Neither channel can be used in the clear afterwards.
	err := cc.Send(HandshakeReq, &pb.HandshakeRequest{NodeId: "go-1", AuthToken: "never"})
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err))
	_, _, err = sc.Recv()
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err))
	// The server read the first message and nothing else: the client
	// (closed by noiseHandshakes) sent no further byte.
	assert.Zero(t, sc.br.Buffered())
	rest, _ := io.ReadAll(sc.br)
	assert.Empty(t, rest)
}

func TestNoiseRejectsZeroKey(t *testing.T) {
	c, _ := tcpPair(t)
	err := NewChannel(c, 0).NoiseAsClient([32]byte{})
	assert.Equal(t, domain.CodeConfig, domain.CodeOf(err))
}

// A responder without the key that still answers (a plain NN handshake: it
// can read the ephemeral key but not check the first message) fails the
// client on the second message.
func TestNoiseResponderWithoutKey(t *testing.T) {
	c, s := tcpPair(t)
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			hs, err := noise.NewHandshakeState(noise.Config{CipherSuite: noiseSuite, Pattern: noise.HandshakeNN, Prologue: []byte(NoisePrologue)})
			if err != nil {
				return err
			}
			f, err := ReadFrame(s, maxNoiseHandshakeFrame)
			if err != nil {
				return err
			}
			if _, _, _, err := hs.ReadMessage(nil, f.Payload); err != nil {
				return err
			}
			m2, _, _, err := hs.WriteMessage(nil, nil)
			if err != nil {
				return err
			}
			return WriteFrame(s, Frame{Type: NoiseHandshake, Payload: m2})
		}()
	}()
	cc := NewChannel(c, 0)
	err := cc.NoiseAsClient(testPSK)
	require.NoError(t, <-done)
	require.Error(t, err)
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err), err.Error())
	assert.False(t, cc.Secure())
}

// relay accepts on one socket and dials the server, copying bytes both
// ways and recording everything it forwards.
type relay struct {
	mu        sync.Mutex
	forwarded bytes.Buffer
	wg        sync.WaitGroup
}

func (r *relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.forwarded.Write(buf[:n])
			r.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = dst.Close()
			return
		}
	}
}

// A relay that forwards faithfully lets the handshake complete (it cannot
// stop that without being noticed) but sees only ciphertext.
func TestNoiseRelayForwardingSeesOnlyCiphertext(t *testing.T) {
	client, relayIn := tcpPair(t)
	relayOut, server := tcpPair(t)
	r := &relay{}
	r.wg.Add(2)
	go r.pipe(relayOut, relayIn)
	go r.pipe(relayIn, relayOut)

	cc, sc := NewChannel(client, 0), NewChannel(server, 0)
	cerr, serr := noiseHandshakes(cc, sc, testPSK, testPSK)
	require.NoError(t, cerr)
	require.NoError(t, serr)
	const marker = "PLAINTEXT-MARKER-7f3a"
	roundTrip(t, cc, sc, PushChangesReq, &pb.PushChangesRequest{Entries: []*pb.ProtoOplogEntry{{Collection: "c", Key: marker, JsonData: `{"m":"` + marker + `"}`}}})
	roundTrip(t, sc, cc, AckRes, &pb.AckResponse{Success: true})
	cc.SetCompression(true)
	roundTrip(t, cc, sc, ChangeSetRes, bigChangeSetWith(marker, 500))

	client.Close()
	server.Close()
	r.wg.Wait()
	seen := r.forwarded.Bytes()
	require.NotEmpty(t, seen)
	assert.NotContains(t, string(seen), marker)
	assert.NotContains(t, string(seen), string(testPSK[:]))
	assert.NotContains(t, string(seen), "the cluster secret of the tests")
}

func bigChangeSetWith(marker string, n int) *pb.ChangeSetResponse {
	cs := bigChangeSet(n)
	for _, e := range cs.Entries {
		e.JsonData = `{"secret":"` + marker + `"}`
	}
	return cs
}

// A relay without the key that terminates both connections (runs its own
// handshakes with a guessed key) completes neither.
func TestNoiseRelayWithoutKeyGetsNowhere(t *testing.T) {
	client, relayIn := tcpPair(t)
	relayOut, server := tcpPair(t)
	var wg sync.WaitGroup
	var relayErrs [2]error
	wg.Add(2)
	go func() { // towards the honest client, as a server
		defer wg.Done()
		relayErrs[0] = NewChannel(relayIn, 0).NoiseAsServer(otherPSK)
		relayIn.Close()
	}()
	go func() { // towards the honest server, as a client
		defer wg.Done()
		relayErrs[1] = NewChannel(relayOut, 0).NoiseAsClient(otherPSK)
		relayOut.Close()
	}()
	cc, sc := NewChannel(client, 0), NewChannel(server, 0)
	var serr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		serr = sc.NoiseAsServer(testPSK)
	}()
	cerr := cc.NoiseAsClient(testPSK)
	wg.Wait()
	for _, err := range append(relayErrs[:], cerr, serr) {
		require.Error(t, err)
		assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err), err.Error())
	}
	assert.False(t, cc.Secure())
	assert.False(t, sc.Secure())
}

func TestDerivePSK(t *testing.T) {
	a := DerivePSK([]byte("s3cret"))
	assert.Equal(t, a, DerivePSK([]byte("s3cret")))
	assert.NotEqual(t, a, DerivePSK([]byte("s3creT")))
	// Pinned: changing the label or the construction changes every
	// cluster's key, which needs a protocol version.
	want, err := hkdf.Key(sha256.New, []byte("s3cret"), nil, "entgldb cluster psk v1", 32)
	require.NoError(t, err)
	assert.Equal(t, want, a[:])
}

func TestNoiseFailureIsNotNetworkError(t *testing.T) {
	// A refused handshake is UNAUTHORIZED, a closed connection is not.
	c, s := tcpPair(t)
	s.Close()
	err := NewChannel(c, 0).NoiseAsClient(testPSK)
	require.Error(t, err)
	assert.NotEqual(t, domain.CodeUnauthorized, domain.CodeOf(err))
	assert.False(t, errors.Is(err, domain.ErrUnauthorized))
}

func TestNoiseNetworkFailureAlsoClosesTheChannel(t *testing.T) {
	c, s := tcpPair(t)
	s.Close()
	cc := NewChannel(c, 0)
	require.Error(t, cc.NoiseAsClient(testPSK))
	err := cc.Send(HandshakeReq, &pb.HandshakeRequest{NodeId: "go-1"})
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err), "no plaintext after a failed handshake")
}
