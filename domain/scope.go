package domain

import (
	"strings"
)

// The scopes an API key may hold (docs/CONFIGURATION.md, "API keys"):
//
//	<collection>:r   read one collection (get, find, count, its change events)
//	<collection>:rw  read and write it (put, delete, batch)
//	*:r, *:rw        the same for every collection
//	metrics          scrape /metrics and nothing else
//	admin            everything: backups, keys, peers, status, every collection
const (
	ScopeAdmin     = "admin"
	ScopeMetrics   = "metrics"
	ScopeAll       = "*"
	ScopeRead      = "r"
	ScopeReadWrite = "rw"
	// MaxScopes bounds the scopes of one key.
	MaxScopes = 256
)

// Access is what a set of scopes allows. The zero Access allows nothing.
// It is immutable once parsed, so one value may be shared by requests.
type Access struct {
	admin, metrics    bool
	readAll, writeAll bool
	read, write       map[string]bool
	scopes            []string // canonical, as parsed
}

// adminAccess is shared: an Access is never changed once made.
var adminAccess = Access{admin: true, metrics: true, readAll: true, writeAll: true, scopes: []string{ScopeAdmin}}

// AdminAccess allows everything.
func AdminAccess() Access { return adminAccess }

// ParseScopes checks scopes and returns what they allow. Surrounding spaces
// are dropped and repeats removed; an empty list, an unknown form or an
// invalid collection name is INVALID_ARGUMENT naming the offending scope.
func ParseScopes(scopes []string) (Access, error) {
	const op = "domain.ParseScopes"
	if len(scopes) == 0 {
		return Access{}, Errorf(CodeInvalidArgument, op,
			"a key needs at least one scope (<collection>:r, <collection>:rw, *:r, *:rw, metrics or admin)")
	}
	if len(scopes) > MaxScopes {
		return Access{}, Errorf(CodeInvalidArgument, op, "a key has at most %d scopes, got %d", MaxScopes, len(scopes))
	}
	a := Access{read: map[string]bool{}, write: map[string]bool{}}
	seen := make(map[string]bool, len(scopes))
	for _, raw := range scopes {
		s := strings.TrimSpace(raw)
		if seen[s] {
			continue
		}
		if err := a.add(s); err != nil {
			return Access{}, Errorf(CodeInvalidArgument, op, "scope %q: %s", raw, err)
		}
		seen[s] = true
		a.scopes = append(a.scopes, s)
	}
	if a.admin {
		return AdminAccess(), nil
	}
	return a, nil
}

// scopeError is a scope's problem, phrased for Errorf's message.
type scopeError string

func (e scopeError) Error() string { return string(e) }

func (a *Access) add(s string) error {
	switch s {
	case ScopeAdmin:
		a.admin = true
		return nil
	case ScopeMetrics:
		a.metrics = true
		return nil
	case "":
		return scopeError("empty scope")
	}
	coll, mode, ok := strings.Cut(s, ":")
	if !ok {
		return scopeError("must be <collection>:r, <collection>:rw, *:r, *:rw, metrics or admin")
	}
	if mode != ScopeRead && mode != ScopeReadWrite {
		return scopeError("the access after ':' must be r (read) or rw (read and write)")
	}
	if coll != ScopeAll {
		if err := ValidateCollection(coll); err != nil {
			return scopeError(Message(err))
		}
	}
	switch {
	case coll == ScopeAll && mode == ScopeReadWrite:
		a.readAll, a.writeAll = true, true
	case coll == ScopeAll:
		a.readAll = true
	case mode == ScopeReadWrite:
		a.read[coll], a.write[coll] = true, true
	default:
		a.read[coll] = true
	}
	return nil
}

// IsAdmin reports whether the scopes include admin.
func (a Access) IsAdmin() bool { return a.admin }

// CanScrape reports whether /metrics may be read (metrics or admin).
func (a Access) CanScrape() bool { return a.metrics || a.admin }

// CanRead reports whether collection may be read.
func (a Access) CanRead(collection string) bool { return a.readAll || a.read[collection] }

// CanWrite reports whether collection may be written.
func (a Access) CanWrite(collection string) bool { return a.writeAll || a.write[collection] }

// Scopes returns the scopes as parsed (a copy).
func (a Access) Scopes() []string { return append([]string(nil), a.scopes...) }
