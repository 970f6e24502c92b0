package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

func newIdentity(t testing.TB, nodeID string) Identity {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return Identity{NodeID: nodeID, Private: priv}
}

func TestIdentityProofBindsConnection(t *testing.T) {
	alice, mallory := newIdentity(t, "alice"), newIdentity(t, "mallory")
	cc, sc := noisePair(t)
	other, _ := noisePair(t)
	binding, otherBinding := cc.ChannelBinding(), other.ChannelBinding()
	require.NotEqual(t, binding, otherBinding)

	proof, err := alice.Prove(RoleClient, binding)
	require.NoError(t, err)
	require.NoError(t, VerifyProof(alice.Public(), RoleClient, sc.ChannelBinding(), "alice", proof))

	for name, err := range map[string]error{
		"replayed on another connection": VerifyProof(alice.Public(), RoleClient, otherBinding, "alice", proof),
		"for another node id":            VerifyProof(alice.Public(), RoleClient, binding, "alice2", proof),
		"reflected as the server's":      VerifyProof(alice.Public(), RoleServer, binding, "alice", proof),
		"under another key":              VerifyProof(mallory.Public(), RoleClient, binding, "alice", proof),
		"truncated":                      VerifyProof(alice.Public(), RoleClient, binding, "alice", proof[:63]),
		"no key":                         VerifyProof(nil, RoleClient, binding, "alice", proof),
		"no binding":                     VerifyProof(alice.Public(), RoleClient, nil, "alice", proof),
	} {
		t.Run(name, func(t *testing.T) {
			require.Error(t, err)
			assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err))
		})
	}
	_, err = alice.Prove(RoleClient, nil)
	assert.Error(t, err, "a channel without binding cannot carry a proof")
}

func TestHandshakeIdentityFields(t *testing.T) {
	client, server := newIdentity(t, "go-client"), newIdentity(t, "go-server")
	cc, sc := noisePair(t)

	req := &pb.HandshakeRequest{NodeId: "go-client", SupportedCompression: []string{CompressionBrotli}}
	require.NoError(t, client.SignRequest(req, cc.ChannelBinding()))
	errc := make(chan error, 1)
	go func() { errc <- cc.Send(HandshakeReq, req) }()
	_, m, err := sc.RecvMessage()
	require.NoError(t, err)
	require.NoError(t, <-errc)
	pub, err := VerifyRequest(m.(*pb.HandshakeRequest), sc.ChannelBinding())
	require.NoError(t, err)
	assert.Equal(t, client.Public(), pub)

	res := &pb.HandshakeResponse{NodeId: "go-server", Accepted: true}
	require.NoError(t, server.SignResponse(res, sc.ChannelBinding()))
	pub, err = VerifyResponse(res, cc.ChannelBinding())
	require.NoError(t, err)
	assert.Equal(t, server.Public(), pub)
	assert.Len(t, Fingerprint(pub), 16)

	// Another node's id with this key, or this proof for another id, fails.
	stolen := proto.Clone(req).(*pb.HandshakeRequest)
	stolen.NodeId = "go-server"
	_, err = VerifyRequest(stolen, sc.ChannelBinding())
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err))
	// A request without identity fields (a C# node) does not verify.
	_, err = VerifyRequest(&pb.HandshakeRequest{NodeId: "cs-1"}, sc.ChannelBinding())
	assert.Equal(t, domain.CodeUnauthorized, domain.CodeOf(err))
	// Signing for another node id is a caller bug.
	assert.Error(t, client.SignRequest(&pb.HandshakeRequest{NodeId: "x"}, cc.ChannelBinding()))
	assert.Error(t, server.SignResponse(&pb.HandshakeResponse{NodeId: "x"}, cc.ChannelBinding()))
}

func TestLoadOrCreateIdentityKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "identity.pem")
	key, created, err := LoadOrCreateIdentityKey(path)
	require.NoError(t, err)
	assert.True(t, created)
	require.Len(t, key, ed25519.PrivateKeySize)
	st, err := os.Stat(path)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), "-----BEGIN PRIVATE KEY-----")

	again, created, err := LoadOrCreateIdentityKey(path)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, key, again)
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".identity-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file left behind")

	t.Run("readable by others", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("mode bits say nothing on Windows")
		}
		require.NoError(t, os.Chmod(path, 0o644))
		defer os.Chmod(path, 0o600)
		_, _, err := LoadOrCreateIdentityKey(path)
		require.Error(t, err)
		assert.Equal(t, domain.CodeConfig, domain.CodeOf(err))
		assert.Contains(t, err.Error(), "chmod 600")
	})
	t.Run("not a key", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.pem")
		require.NoError(t, os.WriteFile(bad, []byte("not a key"), 0o600))
		_, _, err := LoadOrCreateIdentityKey(bad)
		assert.Equal(t, domain.CodeConfig, domain.CodeOf(err))
	})
	t.Run("concurrent first starts agree", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "identity.pem")
		var wg sync.WaitGroup
		keys := make([]ed25519.PrivateKey, 4)
		createdN := make([]bool, 4)
		for i := range keys {
			wg.Go(func() {
				var err error
				keys[i], createdN[i], err = LoadOrCreateIdentityKey(p)
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		n := 0
		for i := range keys {
			assert.Equal(t, keys[0], keys[i])
			if createdN[i] {
				n++
			}
		}
		assert.Equal(t, 1, n, "exactly one start created the key")
	})
}

func TestFullHandshake(t *testing.T) {
	c, s := tcpPair(t)
	require.NoError(t, fullHandshake(c, s, newIdentity(t, "go-client"), newIdentity(t, "go-server")))
}
