package ports

import "time"

// APIKey is what may be shown of an HTTP API key: never its secret or its
// hash. The key store (adapters/apikeys) returns it and the HTTP API
// renders it; JSON names are the HTTP contract.
type APIKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"created_at"`
	// LastUsed is the last request the key authenticated since the node
	// started (zero: none); it is not kept across restarts.
	LastUsed time.Time `json:"last_used,omitzero"`
}
