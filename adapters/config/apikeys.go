package config

import "path/filepath"

// Default file names of the HTTP API's keys, kept beside the database (and
// never in it, so a backup of the database carries no credential).
const (
	DefaultAdminKeyFileName = "admin.key"
	DefaultKeysFileName     = "api-keys.json"
)

// AdminKeyPath is where the API's admin key is kept: the node makes it, the
// CLI on the same machine reads it.
func (c Config) AdminKeyPath() string {
	if c.Http.AdminKeyFile != "" {
		return c.Http.AdminKeyFile
	}
	return filepath.Join(filepath.Dir(c.Persistence.DatabasePath), DefaultAdminKeyFileName)
}

// APIKeysPath is where the hashes of the API's other keys are kept.
func (c Config) APIKeysPath() string {
	if c.Http.KeysFile != "" {
		return c.Http.KeysFile
	}
	return filepath.Join(filepath.Dir(c.Persistence.DatabasePath), DefaultKeysFileName)
}
