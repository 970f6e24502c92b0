package client

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/entgldb/entgldb-go/ports"
)

// The routes about the node itself, for GetJSON.
const (
	PathStatus = "/v1/status"
	PathPeers  = "/v1/peers"
	PathHealth = "/healthz"
	PathReady  = "/readyz"
)

// Status returns the node's sync status.
func (c *Client) Status(ctx context.Context) (ports.SyncStatus, error) {
	var st ports.SyncStatus
	_, err := c.call(ctx, "client.Status", http.MethodGet, PathStatus, nil, &st)
	return st, err
}

// Peers returns the node's peers.
func (c *Client) Peers(ctx context.Context) ([]ports.PeerStatus, error) {
	var out struct {
		Peers []ports.PeerStatus `json:"peers"`
	}
	_, err := c.call(ctx, "client.Peers", http.MethodGet, PathPeers, nil, &out)
	return out.Peers, err
}

// Health is the answer of /healthz.
type Health struct {
	Healthy bool            // 200 rather than 503
	Report  json.RawMessage // the report as the node sent it
}

// Health reads /healthz. An unhealthy node is not an error: it answers its
// report with 503, and Healthy is false.
func (c *Client) Health(ctx context.Context) (Health, error) {
	const op = "client.Health"
	resp, err := c.Do(ctx, http.MethodGet, PathHealth, nil)
	if err != nil {
		return Health{}, err
	}
	if !json.Valid(resp.Body) {
		return Health{}, apiError(op, resp.Status, resp.Body)
	}
	return Health{Healthy: resp.Status == http.StatusOK, Report: resp.Body}, nil
}

// Ready returns nil once the node answers /readyz with 200: its database
// is open and its sync listener up.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.call(ctx, "client.Ready", http.MethodGet, PathReady, nil, nil)
	return err
}

// BackupResult is where the node wrote a backup and its size.
type BackupResult struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// Backup asks the node for an online backup. path is the file the caller
// would like; the node reports where it wrote the backup, which is
// elsewhere when it chose its own backup directory. Empty path: the
// node's choice.
func (c *Client) Backup(ctx context.Context, path string) (BackupResult, error) {
	var body []byte
	if path != "" {
		var err error
		if body, err = json.Marshal(map[string]string{"path": path}); err != nil {
			return BackupResult{}, err
		}
	}
	var out BackupResult
	_, err := c.call(ctx, "client.Backup", http.MethodPost, "/v1/admin/backup", body, &out)
	return out, err
}
