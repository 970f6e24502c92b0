package protocol

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// firstBytes returns what a client writes first when it starts the given
// handshake on a fresh connection.
func firstBytes(t *testing.T, start func(*Channel) error) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	go func() { _ = start(NewChannel(c, 0)) }()
	buf := make([]byte, 128)
	n, err := io.ReadAtLeast(s, buf, HeaderSize)
	require.NoError(t, err)
	return buf[:n]
}

func TestPeekHello(t *testing.T) {
	req, err := proto.Marshal(&pb.HandshakeRequest{NodeId: "cs-1", AuthToken: "k"})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		in   []byte
		want Hello
	}{
		{"noise", firstBytes(t, func(c *Channel) error { return c.NoiseAsClient(testPSK) }), HelloNoise},
		{"legacy secure", firstBytes(t, (*Channel).SecureAsClient), HelloLegacySecure},
		{"legacy plaintext", AppendFrame(nil, Frame{Type: HandshakeReq, Payload: req}), HelloLegacyPlain},
		{"legacy plaintext, empty", AppendFrame(nil, Frame{Type: HandshakeReq}), HelloLegacyPlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReader(bytes.NewReader(tc.in))
			got, err := PeekHello(r)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, got.String())
			rest, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, tc.in, rest, "PeekHello consumed nothing")
		})
	}
	for name, in := range map[string][]byte{
		"http":                  []byte("GET / HTTP/1.1\r\n"),
		"tls":                   {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00},
		"another request first": AppendFrame(nil, Frame{Type: GetClockReq}),
		"noise, compressed":     {48, 0, 0, 0, byte(NoiseHandshake), 1},
		"noise, empty":          {0, 0, 0, 0, byte(NoiseHandshake), 0},
		"noise, too long":       {1, 4, 0, 0, byte(NoiseHandshake), 0},
		"negative length":       {0xff, 0xff, 0xff, 0xff, byte(HandshakeReq), 0},
		"key of another length": {92, 0, 0, 0, 0x30, 0x59},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := PeekHello(bufio.NewReader(bytes.NewReader(in)))
			require.Error(t, err)
			assert.Equal(t, HelloUnknown, got)
			assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
		})
	}
	t.Run("closed early", func(t *testing.T) {
		_, err := PeekHello(bufio.NewReader(bytes.NewReader([]byte{48, 0, 0})))
		assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	})
}

// One listener serves both families: the server peeks, then runs the
// handshake the client started, on the same channel.
func TestPeekHelloThenHandshake(t *testing.T) {
	for _, mode := range []Hello{HelloNoise, HelloLegacySecure} {
		t.Run(mode.String(), func(t *testing.T) {
			c, s := tcpPair(t)
			cc, sc := NewChannel(c, 0), NewChannel(s, 0, WithPreAuthLimit(0))
			errc := make(chan error, 1)
			go func() {
				if mode == HelloNoise {
					errc <- cc.NoiseAsClient(testPSK)
				} else {
					errc <- cc.SecureAsClient()
				}
			}()
			got, err := sc.PeekHello()
			require.NoError(t, err)
			require.Equal(t, mode, got)
			if mode == HelloNoise {
				require.NoError(t, sc.NoiseAsServer(testPSK))
			} else {
				require.NoError(t, sc.SecureAsServer())
			}
			require.NoError(t, <-errc)
			roundTrip(t, cc, sc, HandshakeReq, &pb.HandshakeRequest{NodeId: "n"})
		})
	}
}
