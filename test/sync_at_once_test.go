package test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A sync interval far longer than the tests' deadlines: whatever
// converges within them was not the interval's round.
const longInterval = "ENTGLDB__SYNC__INTERVALMS=60000"

// holdsAll reports whether n holds count documents in collection.
func holdsAll(n *testNode, collection string, count int) bool {
	got, err := n.Client().Count(context.Background(), collection, "")
	return err == nil && got == count
}

// seed writes count small documents to collection on n in one batch.
func seed(t *testing.T, n *testNode, collection string, count int) {
	t.Helper()
	puts := map[string]json.RawMessage{}
	for i := range count {
		puts["k"+strconv.Itoa(i)] = json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`)
	}
	_, err := n.Client().Batch(context.Background(), collection, puts, nil)
	require.NoError(t, err)
}

// A node that starts with a static peer syncs with it at once, not a sync
// interval later; /metrics times the round.
func TestNodeSyncsWithStaticPeerAtStart(t *testing.T) {
	a := newNode(t, nodeSpec{NodeID: "start-a", Env: []string{longInterval}})
	a.start()
	seed(t, a, "docs", 200)
	b := newNode(t, nodeSpec{NodeID: "start-b", Peers: []string{a.PeerAddr()}, Env: []string{longInterval}})
	b.start()
	eventually(t, 15*time.Second, "b to hold a's documents", func() bool { return holdsAll(b, "docs", 200) })

	status, body, _ := b.httpDo(http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, status)
	m := roundsTimed.FindSubmatch(body)
	require.NotNil(t, m, "no sync round histogram in /metrics")
	n, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1, "the round at start was timed")
}

// roundsTimed finds the number of successful sync rounds timed.
var roundsTimed = regexp.MustCompile(`(?m)^entgldb_sync_round_duration_seconds_count\{outcome="ok"\} (\d+)$`)

// Two nodes that find each other by discovery sync as soon as they do, not
// a sync interval later.
func TestNodesSyncWhenDiscovered(t *testing.T) {
	secret := newToken(t)
	env := []string{longInterval, "ENTGLDB__NETWORK__ENABLEDISCOVERY=true", "ENTGLDB__NETWORK__BINDADDRESS=0.0.0.0",
		"ENTGLDB__NETWORK__BROADCASTADDRESS=127.255.255.255"}
	a := newSecNode(t, secSpec{NodeID: "found-a", AuthToken: secret, Env: env, LogLevel: "Information"})
	b := newSecNode(t, secSpec{NodeID: "found-b", AuthToken: secret, Env: env, LogLevel: "Information"})
	b.UDPPort = a.UDPPort
	// Bound to the wildcard address, a node's TCP port can collide with a
	// port another package's test holds on 127.0.0.1: pick again then.
	require.NoError(t, a.StartOnFreshPorts(context.Background(), readyWithin, 3))
	seed(t, a, "docs", 200)
	require.NoError(t, b.StartOnFreshPorts(context.Background(), readyWithin, 3))
	eventually(t, 15*time.Second, "b to hold a's documents", func() bool { return holdsAll(b, "docs", 200) })
}
