package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/entgldb/entgldb-go/ports"
)

// PathKeys is the route of the node's API keys (admin scope).
const PathKeys = "/v1/admin/keys"

// WithKey sends key as Authorization: Bearer on every request: the node's
// admin key, or a key made with CreateKey. Without one, only /healthz and
// /readyz answer.
func WithKey(key string) Option { return func(c *Client) { c.key = key } }

// CreatedKey is a key just made: Secret is the key itself, shown this once.
type CreatedKey struct {
	ports.APIKey
	Secret string `json:"key"`
}

// CreateKey makes a key named name with scopes ("users:rw", "orders:r",
// "*:r", "metrics", "admin"); it needs an admin key.
func (c *Client) CreateKey(ctx context.Context, name string, scopes []string) (CreatedKey, error) {
	body, err := json.Marshal(map[string]any{"name": name, "scopes": scopes})
	if err != nil {
		return CreatedKey{}, err
	}
	var out CreatedKey
	_, err = c.call(ctx, "client.CreateKey", http.MethodPost, PathKeys, body, &out)
	return out, err
}

// Keys lists the keys made on the node (the admin key is not among them).
func (c *Client) Keys(ctx context.Context) ([]ports.APIKey, error) {
	var out struct {
		Keys []ports.APIKey `json:"keys"`
	}
	_, err := c.call(ctx, "client.Keys", http.MethodGet, PathKeys, nil, &out)
	return out.Keys, err
}

// RevokeKey revokes the key with this id: the node refuses it from the
// next request on.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	_, err := c.call(ctx, "client.RevokeKey", http.MethodDelete, PathKeys+"/"+url.PathEscape(id), nil, nil)
	return err
}
