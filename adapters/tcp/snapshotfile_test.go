package tcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/ports"
)

// fileHandler serves a fixed file as its snapshot file and records the
// cluster tag it was asked to stamp.
type fileHandler struct {
	fakeHandler
	content []byte
	dir     string
	cluster string
}

func (h *fileHandler) ServesSnapshotFiles() bool { return true }

func (h *fileHandler) SnapshotFile(_ context.Context, _ ports.PeerInfo, cluster string) (string, error) {
	h.cluster = cluster
	path := filepath.Join(h.dir, "snap.db")
	return path, os.WriteFile(path, h.content, 0o600)
}

func TestFileSnapshotStreamsOverNoiseOnly(t *testing.T) {
	content := make([]byte, 3*protocol.SnapshotChunkBytes+123)
	_, _ = rand.Read(content[:len(content)/2]) // half random, half compressible
	h := &fileHandler{content: content, dir: t.TempDir()}
	srv := startServer(t, h, nil, legacyLoopback)

	d := newDialer(t, dialerOpts(false), nil)
	ps, err := d.Dial(t.Context(), srv.Addr().String())
	require.NoError(t, err)
	s := ps.(*Session)
	require.True(t, s.OffersSnapshotFile(), "a Go peer over Noise offers file snapshots")
	var got bytes.Buffer
	n, err := s.FetchSnapshotFile(t.Context(), &got)
	require.NoError(t, err)
	require.EqualValues(t, len(content), n)
	require.Equal(t, content, got.Bytes())
	require.Equal(t, protocol.SnapshotClusterTag(testPSK), h.cluster, "stamped with the cluster both sides proved")
	require.Equal(t, s.SnapshotCluster(), h.cluster)
	_, err = os.Stat(filepath.Join(h.dir, "snap.db"))
	require.ErrorIs(t, err, os.ErrNotExist, "the served copy is removed")
	// The session stays usable for the tail.
	_, err = s.GetVectorClock(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// A family peer (v5 handshake) is offered nothing and keeps the JSON
	// snapshot.
	r := dialRaw(t, srv.Addr().String())
	res := r.legacyHandshake(t, "family-node", testKey)
	require.True(t, res.GetAccepted())
	require.Empty(t, res.GetCapabilities())
	require.NoError(t, r.ch.Send(protocol.GetSnapshotReq, &pb.GetSnapshotRequest{}))
	typ, payload, err := r.ch.Recv()
	require.NoError(t, err)
	require.Equal(t, protocol.SnapshotChunkMsg, typ)
	var chunk pb.SnapshotChunk
	require.NoError(t, protocol.DecodeInto(typ, protocol.SnapshotChunkMsg, payload, &chunk))
	require.True(t, bytes.HasPrefix(chunk.GetData(), []byte(`{"Version"`)), "the JSON snapshot, as the C# node's SnapshotDto")

	// Our dialer towards a listed family address does not ask for a file.
	o := dialerOpts(false)
	legacyTo(&o, srv.Addr().String())
	ps, err = newDialer(t, o, nil).Dial(t.Context(), srv.Addr().String())
	require.NoError(t, err)
	defer ps.Close()
	require.False(t, ps.(*Session).OffersSnapshotFile())
	_, err = ps.(*Session).FetchSnapshotFile(t.Context(), &got)
	require.Error(t, err)
}

func TestServerWithoutSnapshotFilesOffersNone(t *testing.T) {
	srv := startServer(t, &fakeHandler{}, nil)
	r := dialRaw(t, srv.Addr().String())
	require.Empty(t, r.handshake(t, clientIdentity).GetCapabilities())
}
