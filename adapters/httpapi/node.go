package httpapi

import (
	"net/http"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

type peersReply struct {
	Peers []ports.PeerStatus `json:"peers"`
}

type backupReply struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

type readyReply struct {
	Ready bool `json:"ready"`
}

// GET /v1/peers
func (a *API) peers(w http.ResponseWriter, r *http.Request) {
	ps, err := a.opts.Peers(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if ps == nil {
		ps = []ports.PeerStatus{}
	}
	writeJSON(w, http.StatusOK, peersReply{Peers: ps})
}

// GET /v1/status. SyncStatus holds no secret by construction (no AuthToken).
func (a *API) status(w http.ResponseWriter, r *http.Request) {
	st, err := a.opts.Status(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if st.Peers == nil {
		st.Peers = []ports.PeerStatus{}
	}
	if st.RecentErrors == nil {
		st.RecentErrors = []ports.ErrorRecord{}
	}
	writeJSON(w, http.StatusOK, st)
}

// GET /healthz: 200 when healthy, 503 when not, the report either way.
func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	rep := a.opts.Health(r.Context())
	if rep.Errors == nil {
		rep.Errors = []string{}
	}
	if rep.Warnings == nil {
		rep.Warnings = []string{}
	}
	code := http.StatusOK
	if !rep.IsHealthy {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rep)
}

// GET /readyz: 200 once the database is open and the sync listener is up.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if a.opts.Ready != nil {
		if err := a.opts.Ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: errorDetail{Code: string(codeOf(err)), Message: domain.Message(err)}})
			return
		}
	}
	writeJSON(w, http.StatusOK, readyReply{Ready: true})
}

// POST /v1/admin/backup. No request timeout: a large database takes long.
// One runs at a time: the app's CONFLICT is 409 here, not the 412 of a
// failed document precondition.
func (a *API) backup(w http.ResponseWriter, r *http.Request) {
	path, n, err := a.opts.Backup(r.Context())
	if err != nil && codeOf(err) == domain.CodeConflict {
		writeJSON(w, http.StatusConflict, errorBody{Error: errorDetail{Code: string(domain.CodeConflict), Message: domain.Message(err)}})
		return
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, backupReply{Path: path, Bytes: n})
}
