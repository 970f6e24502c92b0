package udp

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The C# node's cluster_hash: the first 8 upper-case hex digits of SHA-256.
func TestFamilyClusterHash(t *testing.T) {
	require.Equal(t, "", FamilyClusterHash(""))
	require.Equal(t, "2BB80D53", FamilyClusterHash("secret"))
}

// With FamilyPort a node announces itself there in the family's JSON
// beacon, and reports the family nodes of its cluster it hears there,
// without making them sync peers (they are reached only when listed).
func TestFamilyPortAnnouncesAndListens(t *testing.T) {
	famPort := freeUDPPort(t)
	lc := net.ListenConfig{Control: reusePort}
	pc, err := lc.ListenPacket(context.Background(), "udp4", net.JoinHostPort(loopbackBroadcast, strconv.Itoa(famPort)))
	require.NoError(t, err)
	defer pc.Close()

	d := newNode(t, "go-1", "secret", freeUDPPort(t), 5001, func(o *Options) { o.FamilyPort = famPort })
	start(t, d)

	require.NoError(t, pc.SetReadDeadline(time.Now().Add(waitFor)))
	buf := make([]byte, 2048)
	var got familyBeacon
	for got.NodeID != "go-1" {
		n, _, err := pc.ReadFrom(buf)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(buf[:n], &got))
	}
	require.Equal(t, familyBeacon{NodeID: "go-1", TCPPort: 5001, ClusterHash: "2BB80D53", Interests: []string{"users"}}, got)

	to := &net.UDPAddr{IP: net.ParseIP(loopbackBroadcast), Port: famPort}
	for _, b := range []familyBeacon{
		{NodeID: "csharp-a", TCPPort: 5002, ClusterHash: "2BB80D53"},
		{NodeID: "other-cluster", TCPPort: 5003, ClusterHash: "DEADBEEF"},
	} {
		msg, err := json.Marshal(b)
		require.NoError(t, err)
		_, err = pc.WriteTo(msg, to)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return d.FamilyNodes()["csharp-a"] != "" }, waitFor, tick)
	require.NotContains(t, d.FamilyNodes(), "other-cluster")
	require.NotContains(t, peerIDs(d), "csharp-a", "not a sync peer")
	// Counted once the send returns, which may be after the beacon arrived.
	require.Eventually(t, func() bool { return d.Stats().FamilySent > 0 }, waitFor, tick)
}
