package apikeys

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Limits of what the API may create.
const (
	// MaxKeys bounds the keys of a node: the file is read whole at start.
	MaxKeys = 1000
	// MaxNameLen bounds a key's name.
	MaxNameLen = 64
)

type entry struct {
	info     ports.APIKey // LastUsed unset: lastUsed holds it
	hash     hash
	access   domain.Access
	lastUsed atomic.Int64 // unix nanoseconds
}

// Store checks bearer keys and makes and revokes them. Checks take a read
// lock only; a revocation is in force for the next request.
type Store struct {
	path      string // api-keys.json
	adminPath string
	admin     hash
	now       func() time.Time

	write sync.Mutex // serializes changes, so file and memory agree
	mu    sync.RWMutex
	keys  map[string]*entry
}

// Open loads the keys kept at keysPath and the admin key at adminKeyPath,
// creating the admin key when there is none (adminCreated says so).
func Open(keysPath, adminKeyPath string) (s *Store, adminCreated bool, err error) {
	admin, created, err := LoadOrCreateAdminKey(adminKeyPath)
	if err != nil {
		return nil, false, err
	}
	keys, err := readKeys(keysPath)
	if err != nil {
		return nil, false, err
	}
	return &Store{path: keysPath, adminPath: adminKeyPath, admin: hashOf(admin), now: time.Now, keys: keys}, created, nil
}

// Authenticate returns the id and access of the key a request presented;
// ok is false for anything that is not a current key. The admin key is
// checked first (it need not be of the egk_ form when an operator wrote
// it); any other key is found by its id, then its hash is compared in
// constant time. Ids are not secret, so finding one leaks nothing.
func (s *Store) Authenticate(key string) (id string, access domain.Access, ok bool) {
	if key == "" || len(key) > MaxKeyLen {
		return "", domain.Access{}, false
	}
	h := hashOf(key)
	if h.matches(s.admin) {
		return AdminID, domain.AdminAccess(), true
	}
	id = idOf(key)
	s.mu.RLock()
	e := s.keys[id]
	s.mu.RUnlock()
	if e == nil || !e.hash.matches(h) {
		return "", domain.Access{}, false
	}
	e.lastUsed.Store(s.now().UnixNano())
	return id, e.access, true
}

// Active reports whether the key with this id is still valid (false once
// revoked), for long requests such as the change feed to recheck.
func (s *Store) Active(id string) bool {
	if id == AdminID {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys[id] != nil
}

// Create makes a key named name with scopes and returns its record and the
// key itself, which exists nowhere else: the caller shows it once.
func (s *Store) Create(name string, scopes []string) (ports.APIKey, string, error) {
	const op = "apikeys.Create"
	if err := validName(name); err != nil {
		return ports.APIKey{}, "", domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	access, err := domain.ParseScopes(scopes)
	if err != nil {
		return ports.APIKey{}, "", domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	s.write.Lock()
	defer s.write.Unlock()
	current := s.entries()
	if len(current) >= MaxKeys {
		return ports.APIKey{}, "", domain.Errorf(domain.CodeTooLarge, op, "a node keeps at most %d API keys; revoke unused ones first", MaxKeys)
	}
	var key, id string
	for id == "" || s.exists(id) {
		if key, id, err = newKey(""); err != nil {
			return ports.APIKey{}, "", err
		}
	}
	e := &entry{info: ports.APIKey{ID: id, Name: name, Scopes: access.Scopes(), CreatedAt: s.now().UTC().Truncate(time.Second)},
		hash: hashOf(key), access: access}
	if err := writeKeys(s.path, append(current, e)); err != nil {
		return ports.APIKey{}, "", domain.Wrap(domain.CodePersistence, op, err)
	}
	s.mu.Lock()
	s.keys[id] = e
	s.mu.Unlock()
	return e.info, key, nil
}

// List returns every key but the admin key, oldest first.
func (s *Store) List() []ports.APIKey {
	entries := s.entries()
	out := make([]ports.APIKey, 0, len(entries))
	for _, e := range entries {
		k := e.info
		k.Scopes = slices.Clone(k.Scopes)
		if ns := e.lastUsed.Load(); ns != 0 {
			k.LastUsed = time.Unix(0, ns).UTC()
		}
		out = append(out, k)
	}
	return out
}

// Revoke deletes the key with this id: the next request that presents it
// is refused. Should the file not be rewritten, the key stays refused
// until the node restarts and the error says so.
func (s *Store) Revoke(id string) error {
	const op = "apikeys.Revoke"
	if id == AdminID {
		return domain.Errorf(domain.CodeInvalidArgument, op,
			"the admin key cannot be revoked through the API: to replace it, remove %s and restart the node", s.adminPath)
	}
	s.write.Lock()
	defer s.write.Unlock()
	s.mu.Lock()
	if s.keys[id] == nil {
		s.mu.Unlock()
		return domain.Errorf(domain.CodeNotFound, op, "no API key with id %q", id)
	}
	delete(s.keys, id) // in force now, whatever the disk does
	s.mu.Unlock()
	if err := writeKeys(s.path, s.entries()); err != nil {
		return domain.Errorf(domain.CodePersistence, op,
			"key %s is refused from now on, but %s could not be rewritten, so the key would be accepted again after a restart: %w",
			id, s.path, err)
	}
	return nil
}

func (s *Store) exists(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys[id] != nil
}

// entries returns the keys oldest first (by creation time, then id).
func (s *Store) entries() []*entry {
	s.mu.RLock()
	out := make([]*entry, 0, len(s.keys))
	for _, e := range s.keys {
		out = append(out, e)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *entry) int {
		if c := a.info.CreatedAt.Compare(b.info.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.info.ID, b.info.ID)
	})
	return out
}

// validName checks a key's name: 1 to MaxNameLen characters of
// [A-Za-z0-9_.-], so it prints cleanly in lists and logs.
func validName(name string) error {
	const op = "apikeys.validName"
	if len(name) == 0 || len(name) > MaxNameLen {
		return domain.Errorf(domain.CodeInvalidArgument, op, "a key name is 1 to %d characters, got %d", MaxNameLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return domain.Errorf(domain.CodeInvalidArgument, op, "key name %q has a character outside [A-Za-z0-9_.-]", name)
		}
	}
	return nil
}
