package httpapi

import (
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

// refuse answers a request the browser guards turn away with the JSON error
// body; these refusals come before any route, so they carry their own status.
func refuse(w http.ResponseWriter, status int, code domain.Code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: string(code), Message: msg}})
}

// jsonBodyRequired refuses a POST or PUT whose Content-Type is not
// application/json, body or not: those are the methods a cross-site form or
// a "simple" fetch can send without a CORS preflight, and a browser cannot
// set application/json without one.
func jsonBodyRequired(w http.ResponseWriter, r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut:
	default:
		return true
	}
	ct := r.Header.Get("Content-Type")
	if ct == "application/json" {
		return true // as clients send it; ParseMediaType costs a map
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		return true
	}
	refuse(w, http.StatusUnsupportedMediaType, domain.CodeInvalidArgument,
		"Content-Type must be application/json (got "+quoteOrNone(r.Header.Get("Content-Type"))+")")
	return false
}

func quoteOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return `"` + s + `"`
}

// loopbackHosts are the names a local client reaches the node by.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// AllowedHosts is the Host names the API answers for a node listening on
// address: the loopback names, the address's own host unless it is a
// wildcard (a wildcard names no host a client would type), and extra
// (Http.AllowedHosts). Ports are not compared.
func AllowedHosts(address string, extra []string) []string {
	hosts := slices.Clone(loopbackHosts)
	if h, _, err := net.SplitHostPort(address); err == nil && h != "" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
			hosts = append(hosts, h)
		}
	}
	for _, h := range extra {
		hosts = append(hosts, hostName(h))
	}
	return hosts
}

// hostName is a Host header or configured name without port, brackets,
// case or trailing dot.
func hostName(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// hostAllowed refuses a request whose Host is not one of the node's names:
// a DNS-rebinding page reaches the node under the attacker's name, and the
// browser then treats the answers as same-origin. /healthz and /readyz stay
// open to any Host: orchestrator probes address the node by its pod or
// machine IP, and they answer no document data.
func (a *API) hostAllowed(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		return true
	}
	if h := hostName(r.Host); h != "" && slices.Contains(a.hosts, h) {
		return true
	}
	refuse(w, http.StatusMisdirectedRequest, domain.CodeInvalidArgument,
		"Host "+quoteOrNone(r.Host)+" is not a name of this node (Http.AllowedHosts)")
	return false
}

// cors lets the configured browser origins in and no one else: without
// AllowedOrigins no Access-Control-Allow-* header is ever sent, so browsers
// keep other sites from reading answers, and preflights (which any write
// from another origin needs, being application/json) are refused with 403.
// It reports whether the request still has to be served.
func (a *API) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	allowed := slices.Contains(a.opts.AllowedOrigins, origin)
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	w.Header().Add("Vary", "Origin")
	switch {
	case preflight && !allowed:
		refuse(w, http.StatusForbidden, domain.CodeForbidden,
			"origin "+quoteOrNone(origin)+" is not allowed (Http.AllowedOrigins)")
		return false
	case !allowed:
		return true
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "ETag")
	if !preflight {
		return true
	}
	h.Set("Access-Control-Allow-Methods", "GET, PUT, POST, DELETE")
	h.Set("Access-Control-Allow-Headers", "Content-Type, If-Match, If-None-Match, Last-Event-ID, Authorization")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return false
}
