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
	return c.besideDatabase(c.Http.AdminKeyFile, DefaultAdminKeyFileName)
}

// APIKeysPath is where the hashes of the API's other keys are kept.
func (c Config) APIKeysPath() string {
	return c.besideDatabase(c.Http.KeysFile, DefaultKeysFileName)
}

// keyFilesProblem names a key file that is another file of the node: each
// holds its own secret, and writing one would destroy the other.
func (c Config) keyFilesProblem() (key, value, reason string) {
	others := map[string]string{
		"the database (Persistence.DatabasePath)":          c.Persistence.DatabasePath,
		"the cluster secret file (Security.SecretFile)":    c.SecretPath(),
		"the identity key file (Security.IdentityKeyFile)": c.IdentityKeyPath(),
	}
	same := func(a, b string) bool { return filepath.Clean(a) == filepath.Clean(b) }
	if same(c.AdminKeyPath(), c.APIKeysPath()) {
		return "Http.KeysFile", c.APIKeysPath(), "must not be the admin key file (Http.AdminKeyFile)"
	}
	for what, path := range others {
		switch {
		case same(c.AdminKeyPath(), path):
			return "Http.AdminKeyFile", c.AdminKeyPath(), "must not be " + what
		case same(c.APIKeysPath(), path):
			return "Http.KeysFile", c.APIKeysPath(), "must not be " + what
		}
	}
	return "", "", ""
}
