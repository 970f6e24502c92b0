package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// ClusterHash is the discovery cluster hash of an auth token: the first 8
// characters of the uppercase hex SHA-256 of its UTF-8 bytes, "" for an
// empty token (PROTOCOL.md §6).
func ClusterHash(authToken string) string {
	if authToken == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(authToken))
	return strings.ToUpper(hex.EncodeToString(sum[:4]))
}
