package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func TestNodeRoutes(t *testing.T) {
	healthy := true
	var readyErr error
	reg := prometheus.NewRegistry()
	rounds := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "entgldb_sync_rounds_total", Help: "h"}, []string{"peer"})
	reg.MustRegister(rounds)
	rounds.WithLabelValues("n2").Add(3)

	api := New(Options{
		Documents: newFakeDocs(),
		Status: func(context.Context) (ports.SyncStatus, error) {
			return ports.SyncStatus{NodeID: "n1", Online: true, LastSuccessfulSync: 1234, OfflineQueueLen: 2,
				Cache: ports.CacheReport{Hits: 5, HitRate: 0.5}}, nil
		},
		Peers: func(context.Context) ([]ports.PeerStatus, error) {
			return []ports.PeerStatus{{NodeID: "n2", Address: "127.0.0.1:5001", Source: "static", Connected: true, LastSeen: 99}}, nil
		},
		Health: func(context.Context) ports.HealthReport {
			if healthy {
				return ports.HealthReport{IsHealthy: true, DatabaseHealthy: true, NetworkHealthy: true, ConnectedPeers: 1, LastSync: 1234}
			}
			return ports.HealthReport{DatabaseHealthy: true, Errors: []string{"sync listener is down"}}
		},
		Ready: func(context.Context) error { return readyErr },
		Backup: func(context.Context) (string, int64, error) {
			return "/data/backups/entgldb-1.db", 4096, nil
		},
		Metrics: reg,
	})

	rec := do(t, api, "GET", "/v1/status", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var st map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &st))
	assert.Equal(t, "n1", st["node_id"])
	assert.Equal(t, 1234.0, st["last_sync"])
	assert.Equal(t, 2.0, st["offline_queue_length"])
	assert.Equal(t, []any{}, st["peers"], "empty lists are [] not null")
	assert.Equal(t, []any{}, st["recent_errors"])
	assert.Equal(t, 5.0, st["cache"].(map[string]any)["hits"])

	rec = do(t, api, "GET", "/v1/peers", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"peers":[{"node_id":"n2","address":"127.0.0.1:5001","source":"static","connected":true,
		"last_seen":99,"successful_syncs":0,"failed_syncs":0}]}`, rec.Body.String())

	rec = do(t, api, "GET", "/healthz", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"is_healthy":true,"database_healthy":true,"network_healthy":true,"connected_peers":1,
		"last_sync":1234,"errors":[],"open_cluster":false,"handshakes_refused":0,"warnings":[]}`, rec.Body.String())
	healthy = false
	rec = do(t, api, "GET", "/healthz", "")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.JSONEq(t, `{"is_healthy":false,"database_healthy":true,"network_healthy":false,"connected_peers":0,
		"last_sync":0,"errors":["sync listener is down"],"open_cluster":false,"handshakes_refused":0,"warnings":[]}`, rec.Body.String())

	rec = do(t, api, "GET", "/readyz", "")
	assert.Equal(t, http.StatusOK, rec.Code)
	readyErr = domain.Errorf(domain.CodeNetwork, "node", "sync listener not up yet")
	rec = do(t, api, "GET", "/readyz", "")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "NETWORK_ERROR", errOf(t, rec).Code)

	rec = do(t, api, "POST", "/v1/admin/backup", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"path":"/data/backups/entgldb-1.db","bytes":4096}`, rec.Body.String())
	rec = do(t, api, "GET", "/v1/admin/backup", "")
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "INVALID_ARGUMENT", errOf(t, rec).Code)
	assert.Equal(t, "POST", rec.Header().Get("Allow"))
	rec = do(t, api, "PATCH", "/v1/collections/c/docs/k", "{}")
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Contains(t, errOf(t, rec).Message, "PATCH")

	rec = do(t, api, "GET", "/metrics", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/plain")
	assert.Contains(t, rec.Body.String(), `entgldb_sync_rounds_total{peer="n2"} 3`)
}

func TestNodeRouteErrors(t *testing.T) {
	fail := domain.Errorf(domain.CodePersistence, "store", "disk full")
	api := New(Options{
		Documents: newFakeDocs(),
		Status:    func(context.Context) (ports.SyncStatus, error) { return ports.SyncStatus{}, fail },
		Peers:     func(context.Context) ([]ports.PeerStatus, error) { return nil, fail },
		Backup:    func(context.Context) (string, int64, error) { return "", 0, fail },
	})
	for _, r := range []struct{ method, path string }{{"GET", "/v1/status"}, {"GET", "/v1/peers"}, {"POST", "/v1/admin/backup"}} {
		rec := do(t, api, r.method, r.path, "")
		require.Equal(t, http.StatusInternalServerError, rec.Code, r.path)
		e := errOf(t, rec)
		assert.Equal(t, "PERSISTENCE_ERROR", e.Code)
		assert.Equal(t, "disk full", e.Message)
	}
}

func TestOptionalRoutesAbsent(t *testing.T) {
	api := New(Options{Documents: newFakeDocs()})
	for _, p := range []string{"/v1/status", "/v1/peers", "/healthz", "/metrics", "/v1/changes"} {
		rec := do(t, api, "GET", p, "")
		assert.Equal(t, http.StatusNotFound, rec.Code, p)
	}
	assert.Equal(t, http.StatusOK, do(t, api, "GET", "/readyz", "").Code, "no readiness check: ready")
	assert.Panics(t, func() { New(Options{}) })
}

func TestStatusNeverShowsAuthToken(t *testing.T) {
	// The status carries no token field at all; guard against one being added.
	b, err := json.Marshal(ports.SyncStatus{})
	require.NoError(t, err)
	assert.False(t, strings.Contains(strings.ToLower(string(b)), "token"))
}

// A backup asked for while one runs is 409 CONFLICT.
func TestBackupWhileOneRunsIsConflict(t *testing.T) {
	api := New(Options{Documents: newFakeDocs(), Backup: func(context.Context) (string, int64, error) {
		return "", 0, domain.Errorf(domain.CodeConflict, "backup.BackupNow", "a backup is already running")
	}})
	rec := do(t, api, "POST", "/v1/admin/backup", "")
	require.Equal(t, http.StatusConflict, rec.Code, rec.Body.String())
	assert.Equal(t, "CONFLICT", errOf(t, rec).Code)
}
