package entgldb

import (
	"context"

	"github.com/google/uuid"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
)

// nodeID is this node's id, resolved at start (configured, persisted, or new).
type nodeID string

const metaNodeID = "node_id"

// provideNodeID returns the configured id, else the one kept in the
// database, else a new UUID that is then kept, so it survives restarts.
func provideNodeID(ctx context.Context, cfg config.Config, store *sqlite.Store) (nodeID, error) {
	if store.RestoredFromBackup() && cfg.NodeId == "" {
		// The database was just replaced by a backup: take a new id, for the
		// reason given at ForgetNodeID.
		if err := store.SetMeta(ctx, metaNodeID, ""); err != nil {
			return "", err
		}
	}
	if cfg.NodeId != "" {
		return nodeID(cfg.NodeId), store.SetMeta(ctx, metaNodeID, cfg.NodeId)
	}
	id, ok, err := store.GetMeta(ctx, metaNodeID)
	if err != nil {
		return "", err
	}
	if ok && id != "" {
		return nodeID(id), nil
	}
	id = uuid.NewString()
	return nodeID(id), store.SetMeta(ctx, metaNodeID, id)
}

// ForgetNodeID clears the node id kept in a stopped node's database, so its
// next start takes a new one. A database restored from a backup must not
// keep its old id: the node wrote entries under that id after the backup,
// its peers hold them, and a restored node writing again under the same id
// would fork that author's history (peers would refuse the fork, and the
// node would never get its own later entries back). Under a new id, it
// pulls the old id's entries like any other author's.
func ForgetNodeID(ctx context.Context, dbPath string) error {
	st, err := sqlite.Open(ctx, sqlite.Options{Path: dbPath, EnableWAL: true})
	if err != nil {
		return err
	}
	if err := st.SetMeta(ctx, metaNodeID, ""); err != nil {
		_ = st.Close()
		return err
	}
	return st.Close()
}
