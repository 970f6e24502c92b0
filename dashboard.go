package entgldb

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/httpapi"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/adapters/telemetry"
	"github.com/entgldb/entgldb-go/adapters/webui"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// dashboardViews are the read-only routes the dashboard shows beyond the
// document routes (replication matrix, chain check, document history,
// backup files, node counters).
func dashboardViews(id nodeID, store *sqlite.Store, clocks *app.PeerClocks, backups *app.BackupService, reg prometheus.Gatherer) httpapi.Views {
	started := time.Now()
	return httpapi.Views{
		Node: func(ctx context.Context) (httpapi.NodeInfo, error) {
			seq, err := store.LastSeq(ctx)
			if err != nil {
				return httpapi.NodeInfo{}, err
			}
			now := time.Now()
			return httpapi.NodeInfo{NodeID: string(id), StartedAt: started.UnixMilli(), UptimeMs: now.Sub(started).Milliseconds(),
				DocumentsWritten: counterValue(reg, telemetry.Namespace+"_documents_written_total"),
				DocumentsApplied: counterValue(reg, telemetry.Namespace+"_documents_applied_total"),
				LastSeq:          seq}, nil
		},
		Replication: func(ctx context.Context) (ports.ReplicationReport, error) {
			return app.Replication(ctx, string(id), store, clocks)
		},
		Chains: func(ctx context.Context, author string) ([]ports.ChainReport, error) {
			return app.CheckChains(ctx, store, author)
		},
		History: func(ctx context.Context, collection, key string, limit int) ([]ports.HistoryEntry, error) {
			es, err := store.DocumentHistory(ctx, collection, key, limit)
			if err != nil {
				return nil, err
			}
			out := make([]ports.HistoryEntry, len(es))
			for i, e := range es {
				op := "put"
				if e.Op == domain.OpDelete {
					op = "delete"
				}
				out[i] = ports.HistoryEntry{Seq: e.Seq, Op: op, Version: e.Stamp.String(), Author: e.Author(), Hash: e.Hash, Data: e.Data}
			}
			return out, nil
		},
		Backups: backups,
	}
}

// counterValue reads one counter of the node's registry (0 when absent).
func counterValue(reg prometheus.Gatherer, name string) int64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return int64(mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	return 0
}

// dashboard is the node's web UI, or nil when the binary was built
// without it (-tags noui) or the API runs without keys.
func dashboard(cfg config.Config, keys httpapi.Keys, logger *zap.Logger) (*webui.UI, error) {
	if !webui.Included || keys == nil {
		return nil, nil
	}
	return webui.New(webui.Options{Keys: keys, Secure: cfg.Http.TLSEnabled(), Logger: logger.Named("ui")})
}
