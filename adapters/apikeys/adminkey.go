package apikeys

import (
	"strings"

	"github.com/entgldb/entgldb-go/adapters/secrets"
	"github.com/entgldb/entgldb-go/domain"
)

// ReadAdminKey returns the admin key kept at path: NOT_FOUND when there is
// none, CONFIG_ERROR when others may read the file or it holds no key. The
// CLI reads it to talk to the node on the same machine.
func ReadAdminKey(path string) (string, error) {
	const op = "apikeys.ReadAdminKey"
	key, err := secrets.ReadPrivate(path, "HTTP API admin key")
	if err != nil {
		return "", err
	}
	if len(key) < minAdminKeyLen || len(key) > MaxKeyLen || strings.ContainsAny(key, " \t\r\n") {
		return "", domain.Errorf(domain.CodeConfig, op,
			"%s does not hold an admin key (one line of %d to %d characters); remove it and restart the node to make a new one",
			path, minAdminKeyLen, MaxKeyLen)
	}
	return key, nil
}

// LoadOrCreateAdminKey returns the admin key kept at path, creating it (0600,
// in a 0700 directory when it has to make it) when there is none; created
// says which. Of several processes starting at once, exactly one creates it.
func LoadOrCreateAdminKey(path string) (key string, created bool, err error) {
	return secrets.LoadOrCreateWith(path, ReadAdminKey, func() (string, error) {
		key, _, err := newKey(AdminID)
		return key, err
	})
}
