package tcp

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/ports"
	"github.com/entgldb/entgldb-go/ports/porttest"
)

// TestSessionContract runs the ports.PeerSession contract over loopback
// sockets: a server and a dialer of their own per case.
func TestSessionContract(t *testing.T) {
	porttest.RunPeerSessionSuite(t, func(t *testing.T, server, client string, h ports.SyncHandler) ports.PeerSession {
		s := startServer(t, h, zap.NewNop(), func(o *ServerOptions) { o.Trust.Identity.NodeID = server })
		o := dialerOpts(false)
		o.Trust.Identity.NodeID = client
		session, err := newDialer(t, o, nil).Dial(context.Background(), s.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { _ = session.Close() })
		return session
	})
}
