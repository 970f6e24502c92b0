package protocol

import (
	"bufio"
	"bytes"
	"io"
	mrand "math/rand/v2"
	"net"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
)

// Seed corpora live in testdata/fuzz/<Name>/ (built from vectors.json).
// Every target must only ever return errors, never panic or over-allocate.

const fuzzMaxFrame = 1 << 16

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 3, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ReadFrame(bytes.NewReader(data), fuzzMaxFrame)
		if err != nil {
			return
		}
		if len(fr.Payload) > fuzzMaxFrame {
			t.Fatalf("payload of %d bytes passed a %d byte cap", len(fr.Payload), fuzzMaxFrame)
		}
		// A frame that decodes re-frames to the bytes it was read from.
		if !fr.Compressed {
			if got := AppendFrame(nil, fr); !bytes.Equal(got, data[:len(got)]) {
				t.Fatalf("re-framed %x, read from %x", got, data)
			}
		}
		if !fr.Compressed {
			_, _ = Decode(fr.Type, fr.Payload)
		}
	})
}

// FuzzDecompress is apart from FuzzReadFrame because the Brotli decoder
// fills its window (up to 16 MiB) per call: slow enough to starve the
// framing target of executions.
func FuzzDecompress(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := Decompress(payload, fuzzMaxFrame)
		if err == nil && len(out) > fuzzMaxFrame {
			t.Fatalf("decompressed %d bytes past a %d byte cap", len(out), fuzzMaxFrame)
		}
	})
}

// fuzzKey is the K1 of vectors.json, so the seeds sealed with it reach
// the decryption path.
var fuzzKey = []byte{
	0x67, 0x4c, 0xcb, 0xc9, 0xec, 0xae, 0x32, 0xea, 0x3f, 0x2e, 0x2b, 0xfb, 0x01, 0x96, 0x45, 0x4f,
	0x3a, 0xf6, 0xde, 0x05, 0xaa, 0x9b, 0x9f, 0x6b, 0xef, 0xf0, 0xdb, 0xe5, 0x02, 0x1b, 0x2d, 0x6a,
}

func FuzzOpenEnvelope(f *testing.F) {
	sl, err := newSealer(fuzzKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, envelope []byte) {
		typ, compressed, payload, err := sl.open(envelope)
		if err != nil {
			return
		}
		// Whatever opens must seal back to an envelope that opens the same.
		var env pb.SecureEnvelope
		if err := proto.Unmarshal(envelope, &env); err != nil {
			t.Fatalf("opened an envelope that does not unmarshal: %v", err)
		}
		again, err := sl.sealWithIV(env.GetNonce(), typ, compressed, payload)
		if err != nil {
			t.Fatal(err)
		}
		typ2, c2, p2, err := sl.open(again)
		if err != nil || typ2 != typ || c2 != compressed || !bytes.Equal(p2, payload) {
			t.Fatalf("reseal mismatch: %v", err)
		}
	})
}

func FuzzDecodeMessages(f *testing.F) {
	f.Fuzz(func(t *testing.T, typ byte, payload []byte) {
		m, err := Decode(MsgType(typ), payload)
		if err != nil {
			return
		}
		var entries []*pb.ProtoOplogEntry
		switch v := m.(type) {
		case *pb.ChangeSetResponse:
			entries = v.GetEntries()
		case *pb.PushChangesRequest:
			entries = v.GetEntries()
		case *pb.ChainRangeResponse:
			entries = v.GetEntries()
		case *pb.VectorClockResponse:
			_ = VectorClockFromProto(v.GetEntries())
		}
		for _, pe := range entries {
			e, err := EntryFromProto(pe)
			if err != nil {
				continue
			}
			// An accepted entry survives the trip back to the wire.
			back, err := EntryFromProto(EntryToProto(&e))
			if err != nil || back.Op != e.Op || !bytes.Equal(back.Data, e.Data) || back.Stamp != e.Stamp ||
				back.Legacy != e.Legacy || back.ExpiresAt != e.ExpiresAt || !proto.Equal(proofToProto(back.Proof), proofToProto(e.Proof)) {
				t.Fatalf("entry round trip changed %+v into %+v (%v)", e, back, err)
			}
		}
		out, err := proto.Marshal(m)
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		m2, err := Decode(MsgType(typ), out)
		if err != nil || !proto.Equal(m, m2) {
			t.Fatalf("re-decode differs: %v", err)
		}
	})
}

// fuzzBeaconKey is DeriveBeaconKey("fuzz"), so the tagged seeds reach the
// accepting path.
var fuzzBeaconKey, _ = DeriveBeaconKey([]byte("fuzz"))

func FuzzParseBeacon(f *testing.F) {
	f.Fuzz(func(t *testing.T, datagram []byte, closed bool) {
		var key BeaconKey
		if closed {
			key = fuzzBeaconKey
		}
		b, err := ParseBeacon(datagram, key)
		if err != nil {
			return
		}
		if err := b.Check(); err != nil {
			t.Fatalf("accepted a beacon that cannot be sent: %+v: %v", b, err)
		}
		// The decoder is strict: a beacon has one encoding, the one it was read from.
		again, err := b.Marshal(key)
		if err != nil || !bytes.Equal(again, datagram) {
			t.Fatalf("re-marshalled %x (%v), read from %x", again, err, datagram)
		}
	})
}

// FuzzDecodeSnapshot: whatever a peer sends as a snapshot either fails to
// decode or survives an encode-decode round trip unchanged.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		sn, err := DecodeSnapshot(data)
		if err != nil {
			return
		}
		enc, err := EncodeSnapshot(sn)
		if err != nil {
			t.Fatalf("a decoded snapshot does not encode: %v", err)
		}
		again, err := DecodeSnapshot(enc)
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if !reflect.DeepEqual(sn, again) {
			t.Fatalf("snapshot changed in a round trip:\n%+v\n%+v", sn, again)
		}
	})
}

// noiseFuzzMaxFrame lets a seed carry a frame of two Noise transport messages.
const noiseFuzzMaxFrame = 2 * noiseChunk

// fuzzPSK is the key of the FuzzNoiseHandshake seeds.
var fuzzPSK = DerivePSK([]byte("fuzz"))

// fuzzRand returns the repeatable randomness of one side of the seed
// handshakes, so that a seed recorded from the other side (its handshake
// message and the NoiseEnv frames behind it) completes and decrypts when
// replayed: the seeds were recorded from a client with fuzzRand(1) and a
// server with fuzzRand(2) talking over fuzzPSK.
func fuzzRand(seed byte) io.Reader { return mrand.NewChaCha8([32]byte{seed}) }

// replayConn serves a fuzzer's bytes as what the peer sent and swallows
// what the channel writes.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c replayConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c replayConn) Write(p []byte) (int, error) { return len(p), nil }

// FuzzNoiseHandshake feeds the receive path of a Noise handshake (as the
// server when asClient is false, the client otherwise) and, when the
// handshake completes, the NoiseEnv frames that follow.
func FuzzNoiseHandshake(f *testing.F) {
	f.Fuzz(func(t *testing.T, asClient bool, data []byte) {
		ch := NewChannel(replayConn{r: bytes.NewReader(data)}, noiseFuzzMaxFrame, WithPreAuthLimit(0))
		var err error
		if asClient {
			ch.noiseRand = fuzzRand(1)
			err = ch.NoiseAsClient(fuzzPSK)
		} else {
			ch.noiseRand = fuzzRand(2)
			err = ch.NoiseAsServer(fuzzPSK)
		}
		if err != nil {
			if ch.Secure() || ch.ChannelBinding() != nil {
				t.Fatalf("a failed handshake left the channel secure: %v", err)
			}
			if _, _, rerr := ch.Recv(); rerr == nil {
				t.Fatal("a channel that failed its handshake still receives")
			}
			return
		}
		for i := 0; ; i++ {
			if i == 1 {
				ch.MarkAuthenticated()
			}
			typ, payload, err := ch.Recv()
			if err != nil {
				return
			}
			if typ.transport() || len(payload) > noiseFuzzMaxFrame {
				t.Fatalf("received a %s frame of %d bytes", typ, len(payload))
			}
		}
	})
}

// FuzzPeekHello: PeekHello never consumes a byte, and what it recognises
// starts the way its mode does.
func FuzzPeekHello(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		h, err := PeekHello(r)
		rest, _ := io.ReadAll(r)
		if !bytes.Equal(rest, data) {
			t.Fatalf("PeekHello consumed bytes: %x left of %x", rest, data)
		}
		if err != nil {
			if h != HelloUnknown {
				t.Fatalf("error %v with mode %s", err, h)
			}
			return
		}
		want := map[Hello]byte{HelloNoise: byte(NoiseHandshake), HelloLegacySecure: 0x30, HelloLegacyPlain: byte(HandshakeReq)}[h]
		if len(data) < HeaderSize || data[4] != want {
			t.Fatalf("%x recognised as %s", data, h)
		}
	})
}
