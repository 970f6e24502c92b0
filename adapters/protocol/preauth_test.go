package protocol

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// bombFrame is a handshake-typed frame of a hundred-odd bytes whose Brotli
// payload (the bomb of the vectors) expands to 64 MiB.
func bombFrame(t *testing.T) []byte {
	t.Helper()
	f, err := ReadFrame(bytes.NewReader(loadVectors(t).BrotliBomb.Frame), DefaultMaxFrameBytes)
	require.NoError(t, err)
	frame := AppendFrame(nil, Frame{Type: HandshakeReq, Compressed: true, Payload: f.Payload})
	require.Less(t, len(frame), 128)
	return frame
}

func TestPreAuthRefusesCompressedFramesUnread(t *testing.T) {
	c, s := tcpPair(t)
	sc := NewChannel(s, 0, WithPreAuthLimit(0))
	require.False(t, sc.IsAuthenticated())
	_, err := c.Write(bombFrame(t))
	require.NoError(t, err)
	var rerr error
	n := allocated(func() { _, _, rerr = sc.Recv() })
	require.Error(t, rerr)
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(rerr), rerr.Error())
	assert.Less(t, n, uint64(64<<10), "allocated %d bytes to refuse a compressed frame", n)

	// The same frame on an authenticated channel is inflated up to the
	// frame cap: the measurement above would have seen it.
	c2, s2 := tcpPair(t)
	sc2 := NewChannel(s2, 0, WithPreAuthLimit(0))
	sc2.MarkAuthenticated()
	_, err = c2.Write(bombFrame(t))
	require.NoError(t, err)
	n = allocated(func() { _, _, rerr = sc2.Recv() })
	assert.Equal(t, domain.CodeTooLarge, domain.CodeOf(rerr))
	assert.Greater(t, n, uint64(DefaultMaxFrameBytes))
}

func TestPreAuthFrameCap(t *testing.T) {
	big := AppendFrame(nil, Frame{Type: HandshakeReq, Payload: bytes.Repeat([]byte{0}, DefaultPreAuthFrameBytes+1)})
	t.Run("before authentication", func(t *testing.T) {
		c, s := tcpPair(t)
		sc := NewChannel(s, 0, WithPreAuthLimit(0))
		go func() { _, _ = c.Write(big) }()
		_, _, err := sc.Recv()
		require.Error(t, err)
		assert.Equal(t, domain.CodeTooLarge, domain.CodeOf(err), err.Error())
		assert.Contains(t, err.Error(), "before authentication")
	})
	t.Run("after authentication", func(t *testing.T) {
		c, s := tcpPair(t)
		sc := NewChannel(s, 0, WithPreAuthLimit(0))
		sc.MarkAuthenticated()
		go func() { _, _ = c.Write(big) }()
		typ, payload, err := sc.Recv()
		require.NoError(t, err)
		assert.Equal(t, HandshakeReq, typ)
		assert.Len(t, payload, DefaultPreAuthFrameBytes+1)
	})
	t.Run("without the option nothing changes", func(t *testing.T) {
		c, s := tcpPair(t)
		sc := NewChannel(s, 0)
		assert.True(t, sc.IsAuthenticated())
		go func() { _, _ = c.Write(big) }()
		_, _, err := sc.Recv()
		require.NoError(t, err)
	})
	t.Run("the limit never exceeds the frame cap", func(t *testing.T) {
		_, s := tcpPair(t)
		assert.Equal(t, 100, NewChannel(s, 100, WithPreAuthLimit(1<<20)).recvLimit())
	})
}

func TestPreAuthOnNoiseChannel(t *testing.T) {
	cc, sc := noisePair(t, WithPreAuthLimit(0))
	// Small messages pass before authentication.
	roundTrip(t, cc, sc, HandshakeReq, &pb.HandshakeRequest{NodeId: "go-1"})

	// A compressed envelope is decrypted (it is small) but not inflated.
	cc.SetCompression(true)
	errc := make(chan error, 1)
	repetitive := &pb.PushChangesRequest{Entries: []*pb.ProtoOplogEntry{{Collection: "c", Key: "k", JsonData: string(bytes.Repeat([]byte("a"), 100_000))}}}
	go func() { errc <- cc.Send(PushChangesReq, repetitive) }()
	_, _, err := sc.Recv()
	require.NoError(t, <-errc)
	require.Error(t, err)
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err), err.Error())

	// An envelope above the cap is refused before it is read.
	cc2, sc2 := noisePair(t, WithPreAuthLimit(0))
	go func() { errc <- cc2.Send(ChangeSetRes, bigChangeSet(200)) }()
	_, _, err = sc2.Recv()
	assert.Equal(t, domain.CodeTooLarge, domain.CodeOf(err))
	cc2.Conn().Close()
	<-errc

	// Once authenticated, the normal limits apply.
	cc3, sc3 := noisePair(t, WithPreAuthLimit(0))
	cc3.MarkAuthenticated()
	sc3.MarkAuthenticated()
	cc3.SetCompression(true)
	roundTrip(t, cc3, sc3, ChangeSetRes, bigChangeSet(2000))
}

func TestTruncate(t *testing.T) {
	assert.Equal(t, "short", Truncate("short", 128))
	assert.Equal(t, "abc…(6 bytes)", Truncate("abcdef", 3))
	// Never cuts a rune in half.
	assert.Equal(t, "a…(5 bytes)", Truncate("aéé", 2))
	long := string(bytes.Repeat([]byte("x"), 4<<20))
	assert.LessOrEqual(t, len(Truncate(long, LogFieldMax)), LogFieldMax+32)
	assert.Equal(t, "…(3 bytes)", Truncate("abc", -1))
}
