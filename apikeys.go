package entgldb

import (
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/httpapi"
)

// provideAPIKeys opens the HTTP API's key store, making the admin key at
// the first start; nil when the node runs no HTTP API (an embedder's node
// then keeps no key files).
func provideAPIKeys(cfg config.Config, logger *zap.Logger) (httpapi.Keys, error) {
	if !cfg.Http.Enabled {
		return nil, nil
	}
	store, created, err := apikeys.Open(cfg.APIKeysPath(), cfg.AdminKeyPath())
	if err != nil {
		return nil, err
	}
	if created {
		logger.Info("created the HTTP API's admin key; the entgldb CLI on this machine reads it from there",
			zap.String("file", cfg.AdminKeyPath()))
	}
	return apiKeys{store}, nil
}

// apiKeys adapts the key store to the HTTP API's consumer interface.
type apiKeys struct{ *apikeys.Store }

func (k apiKeys) Create(name string, scopes []string) (httpapi.KeyInfo, string, error) {
	info, key, err := k.Store.Create(name, scopes)
	return httpapi.KeyInfo(info), key, err
}

func (k apiKeys) List() []httpapi.KeyInfo {
	keys := k.Store.List()
	out := make([]httpapi.KeyInfo, len(keys))
	for i, info := range keys {
		out[i] = httpapi.KeyInfo(info)
	}
	return out
}
