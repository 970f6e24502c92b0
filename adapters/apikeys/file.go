package apikeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/entgldb/entgldb-go/adapters/secrets"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// fileVersion is the format of api-keys.json this code reads and writes.
const fileVersion = 1

// keysFile is api-keys.json: every key made through the API, by hash.
type keysFile struct {
	Version int         `json:"version"`
	Keys    []keyRecord `json:"keys"`
}

type keyRecord struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Hash      string    `json:"hash"` // "sha256:<hex>" of the whole key
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"created_at"`
}

// readKeys loads the entries of the file at path (none when it does not
// exist). A file others may read, or one that does not parse, is a
// CONFIG_ERROR naming what is wrong: the node must not start with keys it
// cannot check.
func readKeys(path string) (map[string]*entry, error) {
	const op = "apikeys.read"
	if err := secrets.CheckPrivate(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]*entry{}, nil
	}
	if err != nil {
		return nil, domain.Errorf(domain.CodePersistence, op, "reading %s: %w", path, err)
	}
	var f keysFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, domain.Errorf(domain.CodeConfig, op, "%s is not an API key file: %v", path, err)
	}
	if f.Version != fileVersion {
		return nil, domain.Errorf(domain.CodeConfig, op, "%s has version %d; this node reads version %d", path, f.Version, fileVersion)
	}
	out := make(map[string]*entry, len(f.Keys))
	for i, r := range f.Keys {
		h, ok := parseHash(r.Hash)
		if !validID(r.ID) || !ok || out[r.ID] != nil {
			return nil, domain.Errorf(domain.CodeConfig, op, "%s: key %d has a bad or repeated id or hash", path, i)
		}
		access, err := domain.ParseScopes(r.Scopes)
		if err != nil {
			return nil, domain.Errorf(domain.CodeConfig, op, "%s: key %s: %s", path, r.ID, domain.Message(err))
		}
		out[r.ID] = &entry{info: ports.APIKey{ID: r.ID, Name: r.Name, Scopes: access.Scopes(), CreatedAt: r.CreatedAt}, hash: h, access: access}
	}
	return out, nil
}

// writeKeys replaces the file at path with entries, atomically and 0600.
func writeKeys(path string, entries []*entry) error {
	f := keysFile{Version: fileVersion, Keys: make([]keyRecord, 0, len(entries))}
	for _, e := range entries {
		f.Keys = append(f.Keys, keyRecord{ID: e.info.ID, Name: e.info.Name, Hash: e.hash.String(),
			Scopes: e.info.Scopes, CreatedAt: e.info.CreatedAt})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return domain.Errorf(domain.CodeInternal, "apikeys.write", "encoding: %w", err)
	}
	return secrets.WriteReplace(path, append(b, '\n'))
}
