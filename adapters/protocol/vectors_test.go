package protocol

import (
	"bytes"
	"crypto/ecdh"
	"encoding/hex"
	"encoding/json"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
	testvectors "github.com/entgldb/entgldb-go/internal/vectors"
)

// hexBytes decodes a lowercase-hex JSON string.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	*h = d
	return err
}

type vectors struct {
	Frames []struct {
		Name    string          `json:"name"`
		Type    uint8           `json:"type"`
		Message string          `json:"message"`
		Fields  json.RawMessage `json:"fields"`
		Payload hexBytes        `json:"payload"`
		Frame   hexBytes        `json:"frame"`
	} `json:"frames"`
	HashChain []struct {
		Collection   string `json:"collection"`
		Key          string `json:"key"`
		Operation    string `json:"operation"`
		HlcWall      int64  `json:"hlc_wall"`
		HlcLogic     int32  `json:"hlc_logic"`
		HlcNode      string `json:"hlc_node"`
		PreviousHash string `json:"previous_hash"`
		HashInput    string `json:"hash_input"`
		Hash         string `json:"hash"`
	} `json:"hash_chain"`
	ClusterHash []struct {
		AuthToken   string `json:"auth_token"`
		ClusterHash string `json:"cluster_hash"`
	} `json:"cluster_hash"`
	Secure struct {
		ConnectingPrivateKey hexBytes `json:"connecting_private_key"`
		AcceptingPrivateKey  hexBytes `json:"accepting_private_key"`
		ConnectingKeyMessage hexBytes `json:"connecting_key_message"`
		AcceptingKeyMessage  hexBytes `json:"accepting_key_message"`
		SharedX              hexBytes `json:"shared_x"`
		S                    hexBytes `json:"S"`
		K1                   hexBytes `json:"K1"`
		K2                   hexBytes `json:"K2"`
		Messages             []struct {
			Name             string   `json:"name"`
			Key              string   `json:"key"`
			IV               hexBytes `json:"iv"`
			InnerType        uint8    `json:"inner_type"`
			InnerCompression uint8    `json:"inner_compression"`
			Payload          hexBytes `json:"payload"`
			InnerPlaintext   hexBytes `json:"inner_plaintext"`
			Ciphertext       hexBytes `json:"ciphertext"`
			AuthTag          hexBytes `json:"auth_tag"`
			Envelope         hexBytes `json:"envelope"`
			Frame            hexBytes `json:"frame"`
		} `json:"messages"`
		Tampered struct {
			Frame hexBytes `json:"frame"`
		} `json:"tampered"`
	} `json:"secure"`
	Brotli []struct {
		Quality             int      `json:"quality"`
		UncompressedPayload hexBytes `json:"uncompressed_payload"`
		Frame               hexBytes `json:"frame"`
		Entries             int      `json:"entries"`
	} `json:"brotli"`
	BrotliBomb struct {
		ExpandsTo int      `json:"expands_to"`
		Frame     hexBytes `json:"frame"`
	} `json:"brotli_bomb"`
	Beacons []struct {
		Datagram  string `json:"datagram"`
		AuthToken string `json:"auth_token"`
		Accept    bool   `json:"accept"`
		NodeID    string `json:"node_id"`
		TCPPort   int    `json:"tcp_port"`
		Why       string `json:"why"`
	} `json:"beacons"`
}

// loadVectors reads the shared vectors; a missing file fails the test.
func loadVectors(t testing.TB) *vectors {
	t.Helper()
	var v vectors
	path, err := testvectors.Load(&v)
	require.NoError(t, err)
	require.NotEmpty(t, v.Frames, "no frames in %s", path)
	return &v
}

func TestVectorFrames(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.Frames {
		t.Run(tc.Name, func(t *testing.T) {
			typ := MsgType(tc.Type)
			want := NewMessage(typ)
			require.NotNil(t, want, "type %d", tc.Type)
			require.Equal(t, tc.Message, string(want.ProtoReflect().Descriptor().Name()))
			require.NoError(t, protojson.Unmarshal(tc.Fields, want))

			payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(want)
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString(tc.Payload), hex.EncodeToString(payload), "payload")

			var buf bytes.Buffer
			require.NoError(t, WriteFrame(&buf, Frame{Type: typ, Payload: payload}))
			assert.Equal(t, hex.EncodeToString(tc.Frame), hex.EncodeToString(buf.Bytes()), "frame")

			f, err := ReadFrame(bytes.NewReader(tc.Frame), DefaultMaxFrameBytes)
			require.NoError(t, err)
			assert.Equal(t, typ, f.Type)
			assert.False(t, f.Compressed)
			got, err := Decode(f.Type, f.Payload)
			require.NoError(t, err)
			assert.True(t, proto.Equal(want, got), "decoded %v, want %v", got, want)
		})
	}
}

func TestVectorHashChain(t *testing.T) {
	v := loadVectors(t)
	require.NotEmpty(t, v.HashChain)
	for _, tc := range v.HashChain {
		e, err := EntryFromProto(&pb.ProtoOplogEntry{
			Collection: tc.Collection, Key: tc.Key, Operation: tc.Operation, JsonData: "{}",
			HlcWall: tc.HlcWall, HlcLogic: tc.HlcLogic, HlcNode: tc.HlcNode,
			Hash: tc.Hash, PreviousHash: tc.PreviousHash,
		})
		require.NoError(t, err)
		assert.Equal(t, tc.HashInput, string(domain.HashInput(e.Collection, e.Key, e.Op, e.Stamp, e.PrevHash)))
		assert.True(t, e.VerifyHash(), "hash of %s/%s", tc.Collection, tc.Key)
	}
}

func TestVectorClusterHash(t *testing.T) {
	v := loadVectors(t)
	require.NotEmpty(t, v.ClusterHash)
	for _, tc := range v.ClusterHash {
		assert.Equal(t, tc.ClusterHash, ClusterHash(tc.AuthToken), "token %q", tc.AuthToken)
	}
}

func TestVectorSecure(t *testing.T) {
	v := loadVectors(t).Secure
	connPriv, err := ecdh.P256().NewPrivateKey(v.ConnectingPrivateKey)
	require.NoError(t, err)
	accPriv, err := ecdh.P256().NewPrivateKey(v.AcceptingPrivateKey)
	require.NoError(t, err)

	cm, err := keyMessage(connPriv.PublicKey())
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(v.ConnectingKeyMessage), hex.EncodeToString(cm))
	am, err := keyMessage(accPriv.PublicKey())
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(v.AcceptingKeyMessage), hex.EncodeToString(am))

	// Each side derives the same secret from the other's key message.
	peerOfConn, err := readKeyMessage(bytes.NewReader(v.AcceptingKeyMessage))
	require.NoError(t, err)
	peerOfAcc, err := readKeyMessage(bytes.NewReader(v.ConnectingKeyMessage))
	require.NoError(t, err)
	z1, err := connPriv.ECDH(peerOfConn)
	require.NoError(t, err)
	z2, err := accPriv.ECDH(peerOfAcc)
	require.NoError(t, err)
	assert.Equal(t, []byte(v.SharedX), z1)
	assert.Equal(t, []byte(v.SharedX), z2)
	s, keys := deriveKeys(z1)
	assert.Equal(t, []byte(v.S), s)
	assert.Equal(t, []byte(v.K1), keys.K1)
	assert.Equal(t, []byte(v.K2), keys.K2)

	keyByName := map[string][]byte{"K1": v.K1, "K2": v.K2}
	require.NotEmpty(t, v.Messages)
	for _, m := range v.Messages {
		t.Run(m.Name, func(t *testing.T) {
			sl, err := newSealer(keyByName[m.Key])
			require.NoError(t, err)
			env, err := sl.sealWithIV(m.IV, MsgType(m.InnerType), m.InnerCompression == 1, m.Payload)
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString(m.Envelope), hex.EncodeToString(env), "envelope")
			frame := AppendFrame(nil, Frame{Type: SecureEnv, Payload: env})
			assert.Equal(t, hex.EncodeToString(m.Frame), hex.EncodeToString(frame), "frame")

			f, err := ReadFrame(bytes.NewReader(m.Frame), DefaultMaxFrameBytes)
			require.NoError(t, err)
			require.Equal(t, SecureEnv, f.Type)
			typ, compressed, payload, err := sl.open(f.Payload)
			require.NoError(t, err)
			assert.Equal(t, MsgType(m.InnerType), typ)
			assert.Equal(t, m.InnerCompression == 1, compressed)
			assert.Equal(t, []byte(m.Payload), payload)

			// The other direction's key must not open it.
			other := "K2"
			if m.Key == "K2" {
				other = "K1"
			}
			wrong, err := newSealer(keyByName[other])
			require.NoError(t, err)
			_, _, _, err = wrong.open(f.Payload)
			assert.Equal(t, errEnvelopeRejected(), err)
		})
	}

	t.Run("tampered", func(t *testing.T) {
		sl, err := newSealer(v.K1)
		require.NoError(t, err)
		f, err := ReadFrame(bytes.NewReader(v.Tampered.Frame), DefaultMaxFrameBytes)
		require.NoError(t, err)
		_, _, _, err = sl.open(f.Payload)
		require.Error(t, err)
		assert.Equal(t, errEnvelopeRejected(), err)
		assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err))
	})
}

func TestVectorBrotli(t *testing.T) {
	v := loadVectors(t)
	require.NotEmpty(t, v.Brotli)
	for _, tc := range v.Brotli {
		f, err := ReadFrame(bytes.NewReader(tc.Frame), DefaultMaxFrameBytes)
		require.NoError(t, err, "quality %d", tc.Quality)
		require.True(t, f.Compressed)
		require.Equal(t, ChangeSetRes, f.Type)
		out, err := Decompress(f.Payload, DefaultMaxFrameBytes)
		require.NoError(t, err)
		assert.Equal(t, []byte(tc.UncompressedPayload), out)
		var cs pb.ChangeSetResponse
		require.NoError(t, proto.Unmarshal(out, &cs))
		assert.Len(t, cs.GetEntries(), tc.Entries)
		for _, pe := range cs.GetEntries() {
			_, err := EntryFromProto(pe)
			require.NoError(t, err)
		}
	}
}

// allocated returns the bytes allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestVectorBrotliBomb(t *testing.T) {
	v := loadVectors(t).BrotliBomb
	require.Greater(t, v.ExpandsTo, 32<<20)
	f, err := ReadFrame(bytes.NewReader(v.Frame), DefaultMaxFrameBytes)
	require.NoError(t, err, "the bomb is a small, well-formed frame")
	require.True(t, f.Compressed)

	// The decoder's own window (4 MiB for this stream) is the fixed cost;
	// the output never grows past the cap.
	for _, c := range []struct {
		limit, budget int
	}{
		{1 << 20, 7 << 20},
		{DefaultMaxFrameBytes, 24 << 20},
	} {
		var err error
		n := allocated(func() { _, err = Decompress(f.Payload, c.limit) })
		require.Error(t, err)
		assert.Equal(t, domain.CodeTooLarge, domain.CodeOf(err))
		assert.Less(t, n, uint64(c.budget), "cap %d: allocated %d bytes", c.limit, n)
		assert.Less(t, n, uint64(v.ExpandsTo))
		t.Logf("cap %d MiB: refused after allocating %.1f MiB", c.limit>>20, float64(n)/(1<<20))
	}
}

// The family's JSON beacon carries an unsalted hash of the cluster key
// (docs/DISCOVERY.md): this node neither sends nor accepts it, so every
// vector datagram, even one the old format accepted, is refused, open cluster
// or closed.
func TestVectorBeacons(t *testing.T) {
	v := loadVectors(t)
	require.NotEmpty(t, v.Beacons)
	for _, tc := range v.Beacons {
		key, err := DeriveBeaconKey([]byte(tc.AuthToken))
		require.NoError(t, err)
		for _, k := range []BeaconKey{key, nil} {
			_, err := ParseBeacon([]byte(tc.Datagram), k)
			assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err), "%s: %q", tc.Why, tc.Datagram)
		}
	}
}
