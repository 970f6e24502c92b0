package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Keys is what the API needs of the key store (adapters/apikeys).
type Keys interface {
	// Authenticate returns the id and access of a presented key; ok is
	// false for anything that is not a current key. It must compare in
	// constant time.
	Authenticate(key string) (id string, access domain.Access, ok bool)
	// Active reports whether the key with this id is still valid (false
	// once revoked): the change feed rechecks it while it streams.
	Active(id string) bool
	// Create returns the key itself besides its record: shown once.
	Create(name string, scopes []string) (ports.APIKey, string, error)
	List() []ports.APIKey
	// Revoke is in force for the next request; NOT_FOUND for an unknown id.
	Revoke(id string) error
}

// need is what a route asks of the caller. The zero value asks for a valid
// key, so a route registered without saying more is never open.
type need int

const (
	needKey     need = iota // any valid key; the handler shows only what it may read
	needNothing             // /healthz, /readyz, and /metrics when public
	needRead                // read scope on the {c} of the path
	needWrite               // read-write scope on {c}
	needMetrics             // metrics or admin
	needAdmin               // admin
)

// caller is who a request authenticated as.
type caller struct {
	keyID  string // "" when the API runs without keys
	access domain.Access
}

type callerKey struct{}

// callerOf returns the request's caller (the zero caller, allowed nothing,
// on routes that need no key).
func callerOf(r *http.Request) caller {
	c, _ := r.Context().Value(callerKey{}).(caller)
	return c
}

// realm names the protection space in WWW-Authenticate (RFC 6750).
const realm = `Bearer realm="entgldb"`

// authenticate finds the caller of a request to a route that needs a key
// and answers 401 itself when there is no valid one. Without Keys (an API
// built without authentication) every caller is admin.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	const op = "httpapi.authenticate"
	c := caller{access: domain.AdminAccess()}
	if a.opts.Keys != nil {
		if s, ok := a.sessionCaller(w, r); ok || s.refused {
			return r.WithContext(context.WithValue(r.Context(), callerKey{}, s.caller)), ok
		}
		token, problem := bearerToken(r)
		if problem != "" {
			w.Header().Set("WWW-Authenticate", realm)
			a.writeError(w, r, domain.Errorf(domain.CodeUnauthorized, op, "%s", problem))
			return r, false
		}
		id, access, ok := a.opts.Keys.Authenticate(token)
		if !ok {
			w.Header().Set("WWW-Authenticate", realm+`, error="invalid_token"`)
			a.writeError(w, r, domain.Errorf(domain.CodeUnauthorized, op, "the API key is not valid (unknown or revoked)"))
			return r, false
		}
		c = caller{keyID: id, access: access}
	}
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, c)), true
}

// bearerToken reads Authorization: Bearer <key>; problem says what is wrong.
func bearerToken(r *http.Request) (token, problem string) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0:
		return "", "this route needs an API key: send Authorization: Bearer <key> (the node's admin key is in admin.key beside its database)"
	case len(values) > 1:
		return "", "send one Authorization header"
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", "the Authorization header must be Bearer <key>"
	}
	return token, ""
}

// authorized wraps a route's handler with the scope check of its need.
func (a *API) authorized(n need, h http.Handler) http.Handler {
	if n == needNothing || n == needKey {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := callerOf(r)
		coll := r.PathValue("c")
		var ok bool
		var scope, what, others string
		switch n {
		case needRead:
			ok, scope, what, others = c.access.CanRead(coll), coll+":r", "read collection "+quoteOrNone(coll), ", *:r or admin"
		case needWrite:
			ok, scope, what, others = c.access.CanWrite(coll), coll+":rw", "write collection "+quoteOrNone(coll), ", *:rw or admin"
		case needMetrics:
			ok, scope, what, others = c.access.CanScrape(), domain.ScopeMetrics, "read the metrics", " or admin"
		default:
			ok, scope, what = c.access.IsAdmin(), domain.ScopeAdmin, r.Method+" "+r.URL.Path
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", realm+`, error="insufficient_scope", scope="`+scope+`"`)
			a.writeError(w, r, domain.Errorf(domain.CodeForbidden, "httpapi.authorize",
				"API key %s may not %s (it needs the scope %s%s)", c.keyID, what, scope, others))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// stillValid reports whether a long request's key has not been revoked
// since it started.
func (a *API) stillValid(c caller) bool {
	return a.opts.Keys == nil || a.opts.Keys.Active(c.keyID)
}
