package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// fakeBackups serves the files of one directory as manual backups.
type fakeBackups struct{ dir string }

func (f fakeBackups) List() ([]ports.BackupInfo, error) {
	return []ports.BackupInfo{{Kind: "manual", Name: "entgldb-1.db", Bytes: 5}}, nil
}

func (f fakeBackups) Open(kind, name string) (*os.File, error) {
	if kind != "manual" || name != filepath.Base(name) {
		return nil, domain.Errorf(domain.CodeInvalidArgument, "fake", "bad name")
	}
	return os.Open(filepath.Join(f.dir, name))
}

func fakeViews(t *testing.T) Views {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "entgldb-1.db"), []byte("bytes"), 0o600))
	return Views{
		Node: func(context.Context) (NodeInfo, error) { return NodeInfo{NodeID: "n1", UptimeMs: 5}, nil },
		Replication: func(context.Context) (ports.ReplicationReport, error) {
			return ports.ReplicationReport{NodeID: "n1", Authors: []string{"n1"}}, nil
		},
		Chains: func(_ context.Context, author string) ([]ports.ChainReport, error) {
			return []ports.ChainReport{{Author: "n1", Entries: 3, Intact: true}}, nil
		},
		History: func(_ context.Context, c, key string, limit int) ([]ports.HistoryEntry, error) {
			return []ports.HistoryEntry{
				{Seq: 2, Op: "put", Version: "2:0:n1", Author: "n1", Data: json.RawMessage(`{"a":2}`)},
				{Seq: 1, Op: "put", Version: "1:0:n1", Author: "n1", Data: json.RawMessage(`not json`)},
			}, nil
		},
		Backups: fakeBackups{dir: dir},
	}
}

func TestBackupDownloadIsAnAttachment(t *testing.T) {
	n := newAuthNode(t)
	status, body, h := n.call(http.MethodGet, "/v1/admin/backups/manual/entgldb-1.db", "", n.admin)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "bytes", body)
	require.Equal(t, `attachment; filename=entgldb-1.db`, h.Get("Content-Disposition"))
	require.Equal(t, "application/octet-stream", h.Get("Content-Type"))

	status, body, _ = n.call(http.MethodGet, "/v1/admin/backups/auto/entgldb-1.db", "", n.admin)
	require.Equal(t, http.StatusBadRequest, status, body)
}

func TestHistoryLeavesOutDataThatIsNotJSON(t *testing.T) {
	n := newAuthNode(t)
	status, body, _ := n.call(http.MethodGet, "/v1/collections/users/docs/alice/history?limit=5", "", n.admin)
	require.Equal(t, http.StatusOK, status, body)
	var reply historyReply
	require.NoError(t, json.Unmarshal([]byte(body), &reply))
	require.Len(t, reply.Entries, 2)
	require.JSONEq(t, `{"a":2}`, string(reply.Entries[0].Data))
	require.Nil(t, reply.Entries[1].Data)

	status, body, _ = n.call(http.MethodGet, "/v1/collections/users/docs/alice/history?limit=-1", "", n.admin)
	require.Equal(t, http.StatusBadRequest, status, body)
}
