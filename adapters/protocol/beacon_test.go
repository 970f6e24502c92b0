package protocol

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

func mustKey(t testing.TB, secret string) BeaconKey {
	t.Helper()
	k, err := DeriveBeaconKey([]byte(secret))
	require.NoError(t, err)
	return k
}

func mustMarshal(t testing.TB, b Beacon, key BeaconKey) []byte {
	t.Helper()
	out, err := b.Marshal(key)
	require.NoError(t, err)
	return out
}

var sampleBeacon = Beacon{NodeID: "node-a", TCPPort: 5000, Interests: []string{"users", "orders"}, SentAt: 1_760_000_000_123}

// The key is HKDF-SHA256 (RFC 5869) with no salt and the fixed label,
// computed here from HMAC by the RFC's two steps.
func TestDeriveBeaconKeyIsHKDFSHA256(t *testing.T) {
	secret := []byte("correct horse battery staple")
	extract := hmac.New(sha256.New, make([]byte, sha256.Size))
	extract.Write(secret)
	expand := hmac.New(sha256.New, extract.Sum(nil))
	expand.Write([]byte("entgldb discovery beacon v1\x01"))
	want := expand.Sum(nil)

	got, err := DeriveBeaconKey(secret)
	require.NoError(t, err)
	assert.Equal(t, BeaconKey(want), got)

	open, err := DeriveBeaconKey(nil)
	require.NoError(t, err)
	assert.Nil(t, open, "no secret: an open cluster")
}

func TestBeaconRoundTrip(t *testing.T) {
	for name, key := range map[string]BeaconKey{"closed": mustKey(t, "secret"), "open": nil} {
		t.Run(name, func(t *testing.T) {
			dg := mustMarshal(t, sampleBeacon, key)
			assert.Less(t, len(dg), 512, "a typical beacon is small")
			got, err := ParseBeacon(dg, key)
			require.NoError(t, err)
			assert.Equal(t, sampleBeacon, got)

			none := Beacon{NodeID: "n", TCPPort: 1}
			got, err = ParseBeacon(mustMarshal(t, none, key), key)
			require.NoError(t, err)
			assert.Equal(t, none, got, "no interests decode as nil")
		})
	}
}

// The exact bytes, so the format in docs/DISCOVERY.md cannot drift.
func TestBeaconWireFormat(t *testing.T) {
	b := Beacon{NodeID: "ab", TCPPort: 0x1388, Interests: []string{"u"}, SentAt: 0x0102030405060708}
	want := []byte("EGLB\x01\x00\x01\x02\x03\x04\x05\x06\x07\x08\x13\x88\x02ab\x01\x01u")
	assert.Equal(t, want, mustMarshal(t, b, nil))

	key := mustKey(t, "k")
	tagged := mustMarshal(t, b, key)
	body := bytes.Clone(want)
	body[5] = BeaconFlagMAC
	m := hmac.New(sha256.New, key)
	m.Write(body)
	assert.Equal(t, append(body, m.Sum(nil)...), tagged, "the tag is HMAC-SHA256 over every byte before it")
}

// A listener learns nothing it can test a guessed secret against except the
// tag itself: every other byte is the same under any secret.
func TestBeaconRevealsNothingButTheTag(t *testing.T) {
	a := mustMarshal(t, sampleBeacon, mustKey(t, "secret-one"))
	b := mustMarshal(t, sampleBeacon, mustKey(t, "secret-two"))
	require.Equal(t, len(a), len(b))
	n := len(a) - sha256.Size
	assert.Equal(t, a[:n], b[:n])
	assert.NotEqual(t, a[n:], b[n:])
	for _, leak := range []string{ClusterHash("secret-one"), strings.ToLower(ClusterHash("secret-one")), "secret-one"} {
		assert.NotContains(t, string(a), leak)
	}
}

func TestParseBeaconAuthenticates(t *testing.T) {
	key := mustKey(t, "secret")
	dg := mustMarshal(t, sampleBeacon, key)
	for name, c := range map[string]struct {
		datagram []byte
		key      BeaconKey
	}{
		"wrong key":             {dg, mustKey(t, "guess")},
		"untagged on closed":    {mustMarshal(t, sampleBeacon, nil), key},
		"tagged on open":        {dg, nil},
		"tag cut off":           {dg[:len(dg)-sha256.Size], key},
		"tag of another beacon": {append(mustMarshal(t, Beacon{NodeID: "x", TCPPort: 1}, nil), dg[len(dg)-sha256.Size:]...), key},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseBeacon(c.datagram, c.key)
			require.Error(t, err)
		})
	}
	_, err := ParseBeacon(dg, mustKey(t, "guess"))
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err))

	// Any flipped bit is refused.
	for i := range dg {
		for bit := range 8 {
			bad := bytes.Clone(dg)
			bad[i] ^= 1 << bit
			_, err := ParseBeacon(bad, key)
			require.Error(t, err, "byte %d bit %d", i, bit)
		}
	}
	require.Equal(t, mustMarshal(t, sampleBeacon, key), dg, "parsing leaves the datagram alone")
}

func TestParseBeaconIsStrict(t *testing.T) {
	valid := mustMarshal(t, Beacon{NodeID: "ab", TCPPort: 5000, Interests: []string{"u"}, SentAt: 1}, nil)
	edit := func(f func([]byte) []byte) []byte { return f(bytes.Clone(valid)) }
	for name, dg := range map[string][]byte{
		"empty":            nil,
		"legacy JSON":      []byte(`{"node_id":"a","tcp_port":5000,"cluster_hash":"","interests":[]}`),
		"bad magic":        edit(func(b []byte) []byte { b[0] = 'X'; return b }),
		"version 2":        edit(func(b []byte) []byte { b[4] = 2; return b }),
		"version 0":        edit(func(b []byte) []byte { b[4] = 0; return b }),
		"unknown flag":     edit(func(b []byte) []byte { b[5] = 2; return b }),
		"negative sent_at": edit(func(b []byte) []byte { b[6] = 0x80; return b }),
		"tcp port 0":       edit(func(b []byte) []byte { b[14], b[15] = 0, 0; return b }),
		"empty node id":    edit(func(b []byte) []byte { return append(append(b[:16:16], 0), b[19:]...) }),
		"node id too long": edit(func(b []byte) []byte { b[16] = 200; return b }),
		"empty interest":   edit(func(b []byte) []byte { b[20] = 0; return b[:21] }),
		"too many interests": edit(func(b []byte) []byte {
			b = b[:19]
			b = append(b, MaxBeaconInterests+1)
			for range MaxBeaconInterests + 1 {
				b = append(b, 1, 'x')
			}
			return b
		}),
		"truncated":       valid[:len(valid)-1],
		"header only":     valid[:16],
		"trailing byte":   append(bytes.Clone(valid), 0),
		"node id not UTF": edit(func(b []byte) []byte { b[17] = 0xff; return b }),
		"oversized":       append(bytes.Clone(valid), make([]byte, MaxBeaconSize)...),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseBeacon(dg, nil)
			require.Error(t, err)
			assert.Equal(t, domain.CodeNetwork, domain.CodeOf(err), "malformed, not unauthorized: %v", err)
		})
	}
}

func TestBeaconMarshalRefusesWhatDoesNotFit(t *testing.T) {
	for name, b := range map[string]Beacon{
		"no node id":       {TCPPort: 1},
		"long node id":     {NodeID: strings.Repeat("n", MaxBeaconNodeID+1), TCPPort: 1},
		"port 0":           {NodeID: "n"},
		"port 65536":       {NodeID: "n", TCPPort: 65536},
		"negative sent_at": {NodeID: "n", TCPPort: 1, SentAt: -1},
		"many interests":   {NodeID: "n", TCPPort: 1, Interests: make([]string, MaxBeaconInterests+1)},
		"long interest":    {NodeID: "n", TCPPort: 1, Interests: []string{strings.Repeat("c", MaxBeaconInterest+1)}},
	} {
		_, err := b.Marshal(nil)
		assert.Equal(t, domain.CodeInvalidArgument, domain.CodeOf(err), name)
	}
	biggest := Beacon{NodeID: strings.Repeat("n", MaxBeaconNodeID), TCPPort: 1, Interests: make([]string, MaxBeaconInterests)}
	for i := range biggest.Interests {
		biggest.Interests[i] = strings.Repeat("c", MaxBeaconInterest)
	}
	dg := mustMarshal(t, biggest, mustKey(t, "k"))
	assert.Len(t, dg, MaxBeaconSize)
	_, err := ParseBeacon(dg, mustKey(t, "k"))
	require.NoError(t, err)
}
