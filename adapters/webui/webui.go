// Package webui is the node's dashboard: hand-written HTML, CSS and
// JavaScript embedded in the binary (no build step; -tags noui leaves them
// out), served under /ui/ by the HTTP API, and the sign-in that turns an
// API key into a session cookie. The pages hold no data: every data call
// they make goes to the API's own routes, which check the session's key
// and scopes exactly as they check a Bearer key.
package webui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/domain"
)

// Keys is what sign-in needs of the key store (adapters/apikeys).
type Keys interface {
	Authenticate(key string) (id string, access domain.Access, ok bool)
	Active(id string) bool
}

// Options configure the dashboard.
type Options struct {
	Keys Keys
	// Secure marks the session cookie Secure (the API serves TLS). A
	// request that arrived over TLS gets a Secure cookie either way.
	Secure bool
	Logger *zap.Logger
	// Now is the clock of session lifetimes (nil: time.Now).
	Now func() time.Time
}

// UI serves /ui/ and is the API's httpapi.Sessions.
type UI struct {
	opts     Options
	log      *zap.Logger
	assets   map[string]asset
	sessions *sessions
}

// New builds the dashboard. It fails only when the embedded files cannot
// be read (a build bug).
func New(opts Options) (*UI, error) {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	as, err := loadAssets()
	if err != nil {
		return nil, domain.Wrap(domain.CodeInternal, "webui.New", err)
	}
	return &UI{opts: opts, log: opts.Logger, assets: as, sessions: newSessions(opts.Now)}, nil
}

// Lookup implements httpapi.Sessions: the key id and access of the
// request's session cookie. A session whose key was revoked ends here.
func (u *UI) Lookup(r *http.Request) (string, domain.Access, bool) {
	se, ok := u.current(r)
	if !ok {
		return "", domain.Access{}, false
	}
	return se.keyID, se.access, true
}

// current is the request's session while its key is still valid.
func (u *UI) current(r *http.Request) (*session, bool) {
	se, ok := u.sessions.lookup(r)
	if ok && !u.opts.Keys.Active(se.keyID) {
		u.sessions.end(r)
		return nil, false
	}
	return se, ok
}

// ServeHTTP answers /ui/ (the page), its files, and /ui/session (sign in
// with POST, who am I with GET, sign out with DELETE).
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	name := strings.TrimPrefix(r.URL.Path, "/ui/")
	if name == "session" {
		u.session(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, domain.CodeInvalidArgument, "the dashboard's files are read with GET")
		return
	}
	if name == "" {
		name = "index.html"
	}
	a, ok := u.assets[name]
	if !ok {
		writeError(w, http.StatusNotFound, domain.CodeNotFound, "no dashboard file "+r.URL.Path)
		return
	}
	serveAsset(w, r, a)
}

// signIn is the body of POST /ui/session.
type signIn struct {
	Key string `json:"key"`
}

// whoAmI is the answer of GET and POST /ui/session.
type whoAmI struct {
	KeyID  string   `json:"key_id"`
	Admin  bool     `json:"admin"`
	Scopes []string `json:"scopes"`
}

// csrfHeader is httpapi.CSRFHeader (not imported: httpapi imports nothing
// of the dashboard, and the dashboard nothing of it).
const csrfHeader = "X-Entgldb-Csrf"

func (u *UI) session(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		se, ok := u.current(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, domain.CodeUnauthorized, "not signed in")
			return
		}
		writeJSON(w, http.StatusOK, describe(se.keyID, se.access))
	case http.MethodPost:
		if r.Header.Get(csrfHeader) == "" {
			writeError(w, http.StatusForbidden, domain.CodeForbidden, "sign in from the dashboard (the "+csrfHeader+" header is missing)")
			return
		}
		var req signIn
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		if err := dec.Decode(&req); err != nil || req.Key == "" {
			writeError(w, http.StatusBadRequest, domain.CodeInvalidArgument, `sign in with {"key":"egk_..."}`)
			return
		}
		id, access, ok := u.opts.Keys.Authenticate(strings.TrimSpace(req.Key))
		if !ok {
			writeError(w, http.StatusUnauthorized, domain.CodeUnauthorized, "the API key is not valid (unknown or revoked)")
			return
		}
		u.sessions.end(r) // a new sign-in replaces the old session
		value, err := u.sessions.create(id, access)
		if err != nil {
			writeError(w, http.StatusInternalServerError, domain.CodeInternal, "cannot start a session")
			return
		}
		http.SetCookie(w, u.cookie(r, value, 0))
		u.log.Info("dashboard sign-in", zap.String("key", id))
		writeJSON(w, http.StatusOK, describe(id, access))
	case http.MethodDelete:
		if r.Header.Get(csrfHeader) == "" {
			writeError(w, http.StatusForbidden, domain.CodeForbidden, "sign out from the dashboard (the "+csrfHeader+" header is missing)")
			return
		}
		u.sessions.end(r)
		http.SetCookie(w, u.cookie(r, "", -1))
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeError(w, http.StatusMethodNotAllowed, domain.CodeInvalidArgument, "method "+r.Method+" is not allowed on /ui/session")
	}
}

// cookie is the session cookie: never readable by scripts (HttpOnly),
// never sent by another site's pages (SameSite=Strict), only over TLS when
// the node serves TLS. maxAge < 0 deletes it.
func (u *UI) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.opts.Secure || r.TLS != nil}
}

func describe(id string, a domain.Access) whoAmI {
	s := a.Scopes()
	if s == nil {
		s = []string{}
	}
	return whoAmI{KeyID: id, Admin: a.IsAdmin(), Scopes: s}
}

// writeJSON and writeError answer as the API does ({"error":{"code","message"}}).
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func writeError(w http.ResponseWriter, status int, code domain.Code, msg string) {
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, status, map[string]detail{"error": {Code: string(code), Message: msg}})
}
