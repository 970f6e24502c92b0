package config

// Default file names of the HTTP API's keys, kept beside the database (and
// never in it, so a backup of the database carries no credential).
const (
	DefaultAdminKeyFileName = "admin.key"
	DefaultKeysFileName     = "api-keys.json"
)

// AdminKeyPath is where the API's admin key is kept: the node makes it, the
// CLI on the same machine reads it.
func (c Config) AdminKeyPath() string {
	return c.besideDatabase(c.Http.AdminKeyFile, DefaultAdminKeyFileName)
}

// APIKeysPath is where the hashes of the API's other keys are kept.
func (c Config) APIKeysPath() string {
	return c.besideDatabase(c.Http.KeysFile, DefaultKeysFileName)
}
