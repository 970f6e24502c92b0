package memnet_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/memnet"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/entgldb/entgldb-go/ports/porttest"
)

// TestSessionContract runs the ports.PeerSession contract the TCP adapter
// runs too, on a network of its own per case.
func TestSessionContract(t *testing.T) {
	porttest.RunPeerSessionSuite(t, func(t *testing.T, server, client string, h ports.SyncHandler) ports.PeerSession {
		n := memnet.New()
		n.Listen("server:1", server, h)
		session, err := n.Dialer(client).Dial(context.Background(), "server:1")
		require.NoError(t, err)
		t.Cleanup(func() { _ = session.Close() })
		return session
	})
}
