package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAPIKeyFilesSitBesideTheDatabase(t *testing.T) {
	c := Default()
	c.Persistence.DatabasePath = filepath.Join("srv", "node", "entgldb.db")
	require.Equal(t, filepath.Join("srv", "node", "admin.key"), c.AdminKeyPath())
	require.Equal(t, filepath.Join("srv", "node", "api-keys.json"), c.APIKeysPath())
	c.Http.AdminKeyFile, c.Http.KeysFile = "/run/secrets/admin", "/etc/entgldb/keys.json"
	require.Equal(t, "/run/secrets/admin", c.AdminKeyPath())
	require.Equal(t, "/etc/entgldb/keys.json", c.APIKeysPath())
}
