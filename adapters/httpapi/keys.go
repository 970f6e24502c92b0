package httpapi

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/ports"
)

// createKeyRequest is the body of POST /v1/admin/keys.
type createKeyRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// createdKey is its answer: the key itself appears here and nowhere else.
type createdKey struct {
	ports.APIKey
	Key string `json:"key"`
}

type keysReply struct {
	Keys []ports.APIKey `json:"keys"`
}

type revokedReply struct {
	ID      string `json:"id"`
	Revoked bool   `json:"revoked"`
}

// maxKeyRequestBytes bounds a key request body (a name and at most
// domain.MaxScopes scopes).
const maxKeyRequestBytes = 64 << 10

// POST /v1/admin/keys {"name","scopes"} → 201 with the key, shown once.
func (a *API) createKey(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.CreateKey"
	body, err := readBody(w, r, maxKeyRequestBytes)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req createKeyRequest
	if err := decodeStrict(body, &req); err != nil {
		a.writeError(w, r, badRequest(op, `a key request is {"name":"app","scopes":["users:rw","orders:r"]}: %v`, err))
		return
	}
	info, key, err := a.opts.Keys.Create(req.Name, req.Scopes)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.log.Info("API key created", zap.String("id", info.ID), zap.String("name", info.Name),
		zap.Strings("scopes", info.Scopes), zap.String("by", callerOf(r).keyID))
	writeJSON(w, http.StatusCreated, createdKey{APIKey: info, Key: key})
}

// GET /v1/admin/keys: every key made through the API, without secrets.
func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	keys := a.opts.Keys.List()
	if keys == nil {
		keys = []ports.APIKey{}
	}
	writeJSON(w, http.StatusOK, keysReply{Keys: keys})
}

// DELETE /v1/admin/keys/{id}: refused from the next request on.
func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.opts.Keys.Revoke(id); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.log.Info("API key revoked", zap.String("id", id), zap.String("by", callerOf(r).keyID))
	writeJSON(w, http.StatusOK, revokedReply{ID: id, Revoked: true})
}
