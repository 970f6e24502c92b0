package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
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

func TestKeyFilesMustBeTheirOwn(t *testing.T) {
	for name, set := range map[string]func(*Config){
		"keys file is the admin key":    func(c *Config) { c.Http.KeysFile = c.AdminKeyPath() },
		"admin key is the secret":       func(c *Config) { c.Http.AdminKeyFile = c.SecretPath() },
		"keys file is the database":     func(c *Config) { c.Http.KeysFile = c.Persistence.DatabasePath },
		"admin key is the identity key": func(c *Config) { c.Http.AdminKeyFile = c.IdentityKeyPath() },
	} {
		t.Run(name, func(t *testing.T) {
			c := Default()
			set(&c)
			err := c.Validate()
			require.ErrorIs(t, err, domain.ErrConfig)
			require.Contains(t, err.Error(), "must not be")
		})
	}
	require.NoError(t, Default().Validate())
}
