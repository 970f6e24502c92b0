package httpapi

import (
	"net/http"
	"net/url"

	"github.com/entgldb/entgldb-go/domain"
)

// Sessions are the dashboard's sign-ins (adapters/webui): a browser that
// presented a key once holds a cookie standing for it, so the key is never
// kept where scripts can read it. A session is worth exactly its key: the
// same scopes, checked by the same routes, and nothing once the key is
// revoked.
type Sessions interface {
	// Lookup returns the key id and access of the request's session
	// cookie; ok is false when there is none or it ended.
	Lookup(r *http.Request) (keyID string, access domain.Access, ok bool)
}

// CSRFHeader must be on every request a session cookie authenticates but
// GET and HEAD: a page of another site can make the browser send the
// cookie (SameSite aside) but cannot add a header without a CORS preflight,
// which the API refuses.
const CSRFHeader = "X-Entgldb-Csrf"

// sessionResult is what a session cookie made of a request.
type sessionResult struct {
	caller  caller
	refused bool // a cookie-authenticated write failed the same-origin checks: answered
}

// sessionCaller authenticates a request that carries no Authorization
// header by its session cookie. An Authorization header always wins: a
// script with a key of its own is not its browser's session.
func (a *API) sessionCaller(w http.ResponseWriter, r *http.Request) (sessionResult, bool) {
	if a.opts.Sessions == nil || len(r.Header.Values("Authorization")) > 0 {
		return sessionResult{}, false
	}
	id, access, ok := a.opts.Sessions.Lookup(r)
	if !ok || !a.opts.Keys.Active(id) {
		return sessionResult{}, false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if problem := sameOrigin(r); problem != "" {
			a.writeError(w, r, domain.Errorf(domain.CodeForbidden, "httpapi.session", "%s", problem))
			return sessionResult{refused: true}, false
		}
	}
	return sessionResult{caller: caller{keyID: id, access: access}}, true
}

// sameOrigin says what is wrong with a cookie-authenticated write that may
// come from another site: it must carry CSRFHeader, and an Origin, when
// the browser sends one, must be the node's own (same host as the request).
func sameOrigin(r *http.Request) string {
	if r.Header.Get(CSRFHeader) == "" {
		return "a write signed in by session cookie must carry the " + CSRFHeader + " header (the dashboard sends it)"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return "origin " + quoteOrNone(o) + " is not this node's own"
		}
	}
	return ""
}
