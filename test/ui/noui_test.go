package ui

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// A binary built with -tags noui serves no dashboard: /ui/ and / are
// unknown routes, answered 401 without a key and 404 with one.
func TestNoUIBuildServesNoDashboard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "entgldb-noui")
	require.NoError(t, nodeproc.BuildTagged(ctx, bin, "noui"))
	p, err := nodeproc.New(bin, nodeproc.Spec{Dir: t.TempDir(), NodeID: "noui", AuthToken: "ui-cluster"})
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := p.Kill(); err != nil {
			t.Error(err)
		}
	})
	require.NoError(t, p.Start(ctx, readyWithin), p.LogTail(30))
	for _, path := range []string{"/ui/", "/ui/app.js", "/"} {
		resp, err := p.Client().Do(ctx, http.MethodGet, path, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, resp.Status, "%s with the admin key: %s", path, resp.Body)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.HTTPAddr+path, nil)
		require.NoError(t, err)
		raw, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw.Body.Close()
		require.Equal(t, http.StatusUnauthorized, raw.StatusCode, "%s without a key", path)
	}
}
