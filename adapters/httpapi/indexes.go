package httpapi

import (
	"context"
	"net/http"

	"github.com/entgldb/entgldb-go/domain"
)

// Indexer is an optional capability of Documents: an expression index on
// a JSON path (app.Database has it). Without it the route is left out.
type Indexer interface {
	EnsureIndex(ctx context.Context, collection, path string) error
}

// indexRequest is the body of POST /v1/collections/{c}/indexes.
type indexRequest struct {
	Path string `json:"path"`
}

type indexReply struct {
	Collection string `json:"collection"`
	Path       string `json:"path"`
}

// maxIndexBodyBytes bounds the body: a path and little else.
const maxIndexBodyBytes = 4 << 10

// POST /v1/collections/{c}/indexes {"path":"age"} creates, when missing,
// an index on path, so filters on it read only their matches. Admin only:
// an index costs every later write and disk space.
func (a *API) createIndex(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.EnsureIndex"
	c := r.PathValue("c")
	if err := domain.ValidateCollection(c); err != nil {
		a.writeError(w, r, err)
		return
	}
	body, err := readBody(w, r, maxIndexBodyBytes)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req indexRequest
	if err := decodeStrict(body, &req); err != nil {
		a.writeError(w, r, badRequest(op, `the body must be {"path":"field.sub"}: %v`, err))
		return
	}
	if err := domain.ValidateIndexPath(req.Path); err != nil {
		a.writeError(w, r, domain.Wrap(domain.CodeInvalidArgument, op, err))
		return
	}
	if err := a.opts.Documents.(Indexer).EnsureIndex(r.Context(), c, req.Path); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, indexReply{Collection: c, Path: req.Path})
}
