package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/entgldb/entgldb-go/domain"
)

// findRequest is the body of POST /v1/collections/{c}/find: a MongoDB
// filter, a sort document ({"age": -1, "name": 1}), skip, limit (a page:
// 0 means DefaultPageSize, at most MaxPageSize) and a projection (["a",
// "b.c"] or {"a": 1} to include, {"a": 0} to exclude).
type findRequest struct {
	Filter json.RawMessage `json:"filter"`
	Sort   json.RawMessage `json:"sort"`
	Skip   int             `json:"skip"`
	Limit  int             `json:"limit"`
	Fields json.RawMessage `json:"fields"`
}

// MaxFindBodyBytes bounds a find body: a filter at its own limit
// (domain.MaxFilterBytes) and room for the rest.
const MaxFindBodyBytes = domain.MaxFilterBytes + 1<<20

// POST /v1/collections/{c}/find answers one page as GET .../docs does, for
// filters of any size (a URL holds 64 KiB), several sort fields and a
// projection.
func (a *API) findByBody(w http.ResponseWriter, r *http.Request) {
	c := r.PathValue("c")
	if err := domain.ValidateCollection(c); err != nil {
		a.writeError(w, r, err)
		return
	}
	q, proj, err := readFindRequest(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.findPage(w, r, c, q, proj)
}

func readFindRequest(w http.ResponseWriter, r *http.Request) (domain.Query, *domain.Projection, error) {
	const op = "httpapi.Find"
	var q domain.Query
	body, err := readBody(w, r, MaxFindBodyBytes)
	if err != nil {
		return q, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req findRequest
	if err := dec.Decode(&req); err != nil {
		return q, nil, badRequest(op, "the find body must be a JSON object of filter, sort, skip, limit and fields: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return q, nil, badRequest(op, "the find body has data after the JSON object")
	}
	if req.Skip < 0 || req.Limit < 0 {
		return q, nil, badRequest(op, "skip and limit must not be negative")
	}
	if q.Filter, err = domain.ParseFilter(req.Filter); err != nil {
		return q, nil, err
	}
	if q.Sort, err = domain.ParseSort(req.Sort); err != nil {
		return q, nil, err
	}
	proj, err := domain.ParseProjection(req.Fields)
	if err != nil {
		return q, nil, err
	}
	q.Skip, q.Take = req.Skip, req.Limit
	return q, proj, nil
}

// findPage answers one page of q (q.Take is the page size asked for; see
// DefaultPageSize), each document projected by proj when it is not nil.
func (a *API) findPage(w http.ResponseWriter, r *http.Request, c string, q domain.Query, proj *domain.Projection) {
	page := min(q.Take, MaxPageSize)
	if page == 0 {
		page = DefaultPageSize
	}
	q.Take = page + 1 // the one past the page says whether more remain
	docs, err := a.opts.Documents.Find(r.Context(), c, q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	reply := findReply{}
	if len(docs) > page {
		docs = docs[:page]
		reply.More, reply.NextSkip = true, q.Skip+page
	}
	reply.Documents, reply.Count = make([]docReply, 0, len(docs)), len(docs)
	for _, d := range docs {
		data := d.Data
		if proj != nil {
			if data, err = proj.Apply(d.Data); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		reply.Documents = append(reply.Documents, docReply{Key: d.Key, Version: d.Stamp.String(), Data: data, ExpiresAt: formatExpiry(d.ExpiresAt)})
	}
	writeJSON(w, http.StatusOK, reply)
}
