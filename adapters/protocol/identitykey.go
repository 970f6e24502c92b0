package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/entgldb/entgldb-go/domain"
)

// The identity key file is a PEM block "PRIVATE KEY" holding the ed25519
// key as PKCS#8 (RFC 8410), the format `openssl genpkey -algorithm ed25519`
// writes and `openssl pkey -in FILE -pubout` reads, with mode 0600.
const identityPEMType = "PRIVATE KEY"

// maxIdentityFile bounds what is read of the key file (the PEM is ~120 bytes).
const maxIdentityFile = 16 << 10

// LoadOrCreateIdentityKey reads the node's identity key from path, or
// creates it there (created = true) with a fresh random key when no file
// exists. A file that group or others may read or write is refused
// (CodeConfig, like ssh refuses an unprotected key) instead of used: the key
// may already have leaked, and fixing it is a chmod 600 away. On Windows the
// mode bits say nothing about access, so the check is skipped there.
func LoadOrCreateIdentityKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	key, err = loadIdentityKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	if key, err = createIdentityKey(path); errors.Is(err, fs.ErrExist) {
		// Another process created it between our read and our link.
		key, err = loadIdentityKey(path)
		return key, false, err
	}
	return key, err == nil, err
}

func loadIdentityKey(path string) (ed25519.PrivateKey, error) {
	const op = "protocol.LoadIdentityKey"
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "identity key %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "identity key %s: %w", path, err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, domain.Errorf(domain.CodeConfig, op,
			"identity key %s has mode %04o: others may read it; run chmod 600 on it (or replace the key if it leaked)", path, st.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxIdentityFile))
	if err != nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "identity key %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != identityPEMType {
		return nil, domain.Errorf(domain.CodeConfig, op, "identity key %s: no PEM %q block", path, identityPEMType)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "identity key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, domain.Errorf(domain.CodeConfig, op, "identity key %s holds a %T, want an ed25519 key", path, k)
	}
	return ek, nil
}

// createIdentityKey writes a new key to a temporary file and links it to
// path, so a crash never leaves a half-written key and two starting
// processes never overwrite each other (fs.ErrExist for the loser).
func createIdentityKey(path string) (ed25519.PrivateKey, error) {
	const op = "protocol.CreateIdentityKey"
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, domain.Errorf(domain.CodeInternal, op, "generating key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, domain.Errorf(domain.CodeInternal, op, "encoding key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "identity key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".identity-*.tmp") // created 0600
	if err != nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "identity key %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	err = pem.Encode(tmp, &pem.Block{Type: identityPEMType, Bytes: der})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "writing identity key %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		return nil, domain.Errorf(domain.CodeConfig, op, "identity key %s: %w", path, err)
	}
	return key, nil
}
