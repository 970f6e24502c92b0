package httpapi

import (
	"mime"
	"net/http"

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
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
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
