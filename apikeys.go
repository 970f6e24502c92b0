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
	return store, nil
}
