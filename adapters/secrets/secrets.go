// Package secrets keeps the cluster secret on disk: the join token a node
// generates at first start, or the one it was given with `serve --join`.
// The token is 32 random bytes in unpadded base64url; nothing here invents
// cryptography: the bytes come from crypto/rand and are used as key
// material by adapters/protocol (HKDF-SHA256 into the Noise PSK and the
// discovery beacon key).
package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"

	"github.com/entgldb/entgldb-go/domain"
)

// tokenBytes is the secret's size: 256 bits, so guessing it offline from a
// captured handshake or beacon is hopeless.
const tokenBytes = 32

var encoding = base64.RawURLEncoding

// NewToken returns a fresh join token.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", domain.Errorf(domain.CodeInternal, "secrets.NewToken", "reading random bytes: %w", err)
	}
	return encoding.EncodeToString(b), nil
}

// CheckToken reports whether s is a join token (43 base64url characters
// holding 32 bytes); the error says what is wrong without repeating s.
func CheckToken(s string) error {
	const op = "secrets.CheckToken"
	b, err := encoding.DecodeString(s)
	if err != nil || len(b) != tokenBytes {
		return domain.Errorf(domain.CodeInvalidArgument, op,
			"a join token is %d base64url characters (the output of `entgldb token`); got %d characters",
			encoding.EncodedLen(tokenBytes), len(s))
	}
	return nil
}

// Read returns the token kept at path.
func Read(path string) (string, error) {
	const op = "secrets.Read"
	tok, err := ReadPrivate(path, "cluster secret")
	if err != nil {
		return "", err
	}
	if err := CheckToken(tok); err != nil {
		return "", domain.Errorf(domain.CodeConfig, op, "%s does not hold a join token: %w", path, err)
	}
	return tok, nil
}

// LoadOrCreate returns the token kept at path, creating a new one (0600, in
// a 0700 directory if it has to make it) when there is none; created says
// which. Of several processes starting at once, exactly one creates it.
func LoadOrCreate(path string) (token string, created bool, err error) {
	return LoadOrCreateWith(path, Read, NewToken)
}

// LoadOrCreateWith is LoadOrCreate for any one-line secret: read returns
// the one kept at path (NOT_FOUND when there is none), generate makes a new
// one, written 0600 through WriteNew.
func LoadOrCreateWith(path string, read func(string) (string, error), generate func() (string, error)) (string, bool, error) {
	secret, err := read(path)
	if !errors.Is(err, domain.ErrNotFound) {
		return secret, false, err
	}
	if secret, err = generate(); err != nil {
		return "", false, err
	}
	switch err := WriteNew(path, []byte(secret+"\n")); {
	case err == nil:
		return secret, true, nil
	case errors.Is(err, os.ErrExist):
		secret, err := read(path) // another process won the race
		return secret, false, err
	default:
		return "", false, err
	}
}

// Join keeps token at path. The same token already there is fine; a
// different one is a CONFIG_ERROR: a node belongs to one cluster, and its
// data was shared with the members of that one.
func Join(path, token string) error {
	const op = "secrets.Join"
	if err := CheckToken(token); err != nil {
		return domain.Errorf(domain.CodeConfig, op, "--join: %s", domain.Message(err))
	}
	old, err := Read(path)
	switch {
	case err == nil && old == token:
		return nil
	case err == nil:
		return domain.Errorf(domain.CodeConfig, op,
			"this node already belongs to another cluster (secret in %s); remove that file (and the data shared with that cluster) to join a different one", path)
	case !errors.Is(err, domain.ErrNotFound):
		return err
	}
	if err := WriteNew(path, []byte(token+"\n")); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// JoinCommand is the line that tells an operator how another node joins.
func JoinCommand(token string) string {
	return fmt.Sprintf("entgldb serve --join %s", token)
}
