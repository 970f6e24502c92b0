// Package apikeys keeps the HTTP API's keys: the admin key in its own file
// (admin.key, which the local CLI reads) and the keys made through the API
// in api-keys.json, both 0600 beside the database and never in it, so a
// backup of the database carries no credential.
//
// A key reads egk_<id>_<secret>: the id (not secret, shown by `keys list`)
// finds the record, the secret is 32 bytes from crypto/rand. Only SHA-256
// hashes of keys are stored. A slow password hash (bcrypt, argon2) would
// buy nothing: it protects guessable passwords from offline guessing, and a
// 256-bit random secret cannot be guessed, so a plain hash is as strong and
// keeps checking a key cheap on every request.
package apikeys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

// Prefix starts every key, so a leaked one is recognisable (secret scanners,
// logs) and a key is never mistaken for a cluster join token.
const Prefix = "egk_"

// AdminID is the id of the admin key.
const AdminID = "admin"

// Sizes: a 64-bit random id tells records apart; the 256-bit secret is
// what cannot be guessed.
const (
	idBytes     = 8
	secretBytes = 32
	// MaxKeyLen bounds what is hashed for a bearer token; longer ones are
	// no key of ours.
	MaxKeyLen = 256
	// minAdminKeyLen is the shortest admin key accepted from a file an
	// operator wrote (as long as a generated secret).
	minAdminKeyLen = 43
)

var secretEncoding = base64.RawURLEncoding

// hash is the stored form of a key.
type hash [sha256.Size]byte

func hashOf(key string) hash { return sha256.Sum256([]byte(key)) }

// matches compares in constant time, so the time taken says nothing about
// how much of a guess was right.
func (h hash) matches(other hash) bool { return subtle.ConstantTimeCompare(h[:], other[:]) == 1 }

func (h hash) String() string { return "sha256:" + hex.EncodeToString(h[:]) }

func parseHash(s string) (hash, bool) {
	var h hash
	hexed, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		return h, false
	}
	b, err := hex.DecodeString(hexed)
	if err != nil || len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// newKey returns a fresh key with the given id (a new random one when id is "").
func newKey(id string) (key, keyID string, err error) {
	const op = "apikeys.newKey"
	buf := make([]byte, idBytes+secretBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", "", domain.Errorf(domain.CodeInternal, op, "reading random bytes: %w", err)
	}
	if id == "" {
		id = hex.EncodeToString(buf[:idBytes])
	}
	return Prefix + id + "_" + secretEncoding.EncodeToString(buf[idBytes:]), id, nil
}

// idOf returns the id a key names ("" when it is not of our form). The id
// is hex or "admin", so the first '_' after the prefix ends it; the secret
// (base64url) may hold '_' itself.
func idOf(key string) string {
	rest, ok := strings.CutPrefix(key, Prefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok {
		return ""
	}
	return id
}

// validID reports whether id is one newKey makes.
func validID(id string) bool {
	if len(id) != 2*idBytes {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}
