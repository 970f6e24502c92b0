package test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/client"
)

// A document written with an expiry (the CLI's --ttl) reaches the other
// node with its expiry, is gone from get, find and count on both nodes once
// due, and maintenance then collects it on both (real processes, loopback).
func TestExpiringDocumentReplicatesVanishesAndIsCollected(t *testing.T) {
	nodes := startCompactingMesh(t, 2, "ttl")
	a, b := nodes[0], nodes[1]
	_, errOut, code := a.cli("put", "sessions", "s1", `{"user":"ada"}`, "--ttl", "3s")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = a.cli("put", "sessions", "s2", `{"user":"bob"}`)
	require.Equal(t, 0, code, errOut)

	eventually(t, 5*time.Second, "the expiring document on the other node", func() bool { return b.has("sessions", "s1") })
	status, _, header := b.httpDo(http.MethodGet, client.DocPath("sessions", "s1"), nil)
	require.Equal(t, http.StatusOK, status)
	require.NotEmpty(t, header.Get("Expires-At"), "the expiry travelled with the document")
	expires, err := time.Parse(time.RFC3339Nano, header.Get("Expires-At"))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(3*time.Second), expires, 3*time.Second)

	for _, n := range nodes {
		eventually(t, 10*time.Second, n.HTTPAddr+" hides the expired document", func() bool { return !n.has("sessions", "s1") })
		docs, ok := n.allDocs("sessions")
		require.True(t, ok)
		require.Equal(t, []string{"s2"}, keysOf(docs), "find sees only the live document")
		out, errOut, code := n.cli("count", "sessions")
		require.Equal(t, 0, code, errOut)
		require.Equal(t, "1", strings.TrimSpace(out))
	}
	// Collected like a delete once every peer holds it and the tombstone
	// retention passed since its expiry: both oplogs keep only s2's entry.
	for _, n := range nodes {
		eventually(t, 20*time.Second, n.HTTPAddr+" collects the expired document", func() bool {
			return n.storage().OplogEntries <= 1
		})
	}
}

func keysOf(docs map[string]string) []string {
	var keys []string
	for k := range docs {
		keys = append(keys, k)
	}
	return keys
}
