package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// Views are the read-only views the dashboard shows beyond the document
// routes; each is an ordinary route with its own scope check, open to any
// client with the key for it. A nil field leaves its route out.
type Views struct {
	// Node answers GET /v1/admin/node.
	Node func(ctx context.Context) (NodeInfo, error)
	// Replication answers GET /v1/admin/replication (the matrix of
	// ports.ReplicationReport).
	Replication func(ctx context.Context) (ports.ReplicationReport, error)
	// Chains answers GET /v1/admin/chains?author=A (every author without).
	Chains func(ctx context.Context, author string) ([]ports.ChainReport, error)
	// History answers GET /v1/collections/{c}/docs/{key}/history: the
	// document's newest oplog entries, newest first, at most limit.
	History func(ctx context.Context, collection, key string, limit int) ([]ports.HistoryEntry, error)
	// Backups lists (GET /v1/admin/backups) and serves (GET
	// /v1/admin/backups/{kind}/{name}) the backup files.
	Backups Backups
}

// Backups is what the API needs of the backup files (app.BackupService).
type Backups interface {
	List() ([]ports.BackupInfo, error)
	Open(kind, name string) (*os.File, error)
}

// NodeInfo is the answer of GET /v1/admin/node: who the node is, since
// when it runs, and the counters the dashboard turns into rates.
type NodeInfo struct {
	NodeID    string `json:"node_id"`
	StartedAt int64  `json:"started_at"` // Unix ms
	UptimeMs  int64  `json:"uptime_ms"`
	// DocumentsWritten counts local writes, DocumentsApplied remote
	// changes applied, since start.
	DocumentsWritten int64 `json:"documents_written"`
	DocumentsApplied int64 `json:"documents_applied"`
	// LastSeq is the change feed's newest position.
	LastSeq int64 `json:"last_seq"`
}

// History page sizes: limit=0 asks for DefaultHistory entries.
const (
	DefaultHistory = 20
	MaxHistory     = 200
)

type chainsReply struct {
	Chains []ports.ChainReport `json:"chains"`
}

type historyReply struct {
	Entries []ports.HistoryEntry `json:"entries"`
}

type backupsReply struct {
	Backups []ports.BackupInfo `json:"backups"`
}

func (a *API) dashboardRoutes() {
	timed, v := a.withTimeout, a.opts.Views
	if v.Node != nil {
		a.handle("GET /v1/admin/node", needAdmin, timed(a.nodeInfo))
	}
	if v.Replication != nil {
		a.handle("GET /v1/admin/replication", needAdmin, timed(a.replication))
	}
	if v.Chains != nil {
		a.handle("GET /v1/admin/chains", needAdmin, timed(a.chains))
	}
	if v.History != nil {
		a.handle("GET /v1/collections/{c}/docs/{key}/history", needRead, timed(a.history))
	}
	if v.Backups != nil {
		a.handle("GET /v1/admin/backups", needAdmin, timed(a.listBackups))
		// No request timeout: a large file takes long to send.
		a.handle("GET /v1/admin/backups/{kind}/{name}", needAdmin, http.HandlerFunc(a.downloadBackup))
	}
	if a.opts.UI != nil {
		a.handle("/ui/", needNothing, a.opts.UI)
		// Whoever types the node's address lands on the dashboard.
		a.handle("GET /{$}", needNothing, http.RedirectHandler("/ui/", http.StatusFound))
	}
}

// GET /v1/admin/node
func (a *API) nodeInfo(w http.ResponseWriter, r *http.Request) {
	info, err := a.opts.Views.Node(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// GET /v1/admin/replication
func (a *API) replication(w http.ResponseWriter, r *http.Request) {
	rep, err := a.opts.Views.Replication(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// GET /v1/admin/chains?author=A
func (a *API) chains(w http.ResponseWriter, r *http.Request) {
	cs, err := a.opts.Views.Chains(r.Context(), r.URL.Query().Get("author"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if cs == nil {
		cs = []ports.ChainReport{}
	}
	writeJSON(w, http.StatusOK, chainsReply{Chains: cs})
}

// GET /v1/collections/{c}/docs/{key}/history?limit=N
func (a *API) history(w http.ResponseWriter, r *http.Request) {
	c, key, err := collectionAndKey(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	limit, err := nonNegative(r.URL.Query(), "limit")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if limit == 0 {
		limit = DefaultHistory
	}
	es, err := a.opts.Views.History(r.Context(), c, key, min(limit, MaxHistory))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	for i := range es {
		if !json.Valid(es[i].Data) { // a foreign author's bytes must not break the reply
			es[i].Data = nil
		}
	}
	if es == nil {
		es = []ports.HistoryEntry{}
	}
	writeJSON(w, http.StatusOK, historyReply{Entries: es})
}

// GET /v1/admin/backups
func (a *API) listBackups(w http.ResponseWriter, r *http.Request) {
	bs, err := a.opts.Views.Backups.List()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if bs == nil {
		bs = []ports.BackupInfo{}
	}
	writeJSON(w, http.StatusOK, backupsReply{Backups: bs})
}

// GET /v1/admin/backups/{kind}/{name}: the file, as a download.
func (a *API) downloadBackup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	f, err := a.opts.Views.Backups.Open(r.PathValue("kind"), name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		a.writeError(w, r, domain.Wrap(domain.CodePersistence, "httpapi.DownloadBackup", err))
		return
	}
	// The server's WriteTimeout bounds ordinary answers; a backup is as
	// long as the database.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, f)
	}
}
