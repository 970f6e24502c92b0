// Package entgldb is the embedder's one import: Open starts a node from a
// configuration and returns its *DB, whose collections are read and written
// like a local database while the node syncs them with its peers.
//
//	db, err := entgldb.Open(ctx, entgldb.Options{Config: entgldb.LocalConfig(dir)})
//	...
//	defer db.Close()
//	v, err := db.Collection("users").Put(ctx, "u1", []byte(`{"name":"Ada"}`))
//
// The typed helpers Put, Get and Find map Go structs to documents.
package entgldb

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/app"
)

// DefaultCloseTimeout bounds Close: in-flight sync rounds and requests get
// this long to finish before they are cut.
const DefaultCloseTimeout = 20 * time.Second

// Options configure Open.
type Options struct {
	// Config is the node configuration (start from DefaultConfig() or
	// LocalConfig(dir)).
	Config Config
	// Logger receives the node's logs (nil: none).
	Logger *zap.Logger
}

// DB is a running node: its documents, plus read-only views of its sync
// state and health. Safe for concurrent use.
type DB struct {
	node *app.Node
}

// Open builds a node through the Wire injector and starts it. The returned
// DB owns every resource; Close (or Stop) releases them.
func Open(ctx context.Context, opts Options) (*DB, error) {
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	cfg, err := withClusterSecret(opts.Config, logger)
	if err != nil {
		return nil, err
	}
	warnSecurity(logger, cfg)
	start := time.Now()
	node, cleanup, err := newNode(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	node.AddCleanup(cleanup)
	if err := node.Start(ctx); err != nil {
		return nil, err
	}
	logNodeStarted(logger, cfg, node, time.Since(start))
	return &DB{node: node}, nil
}

// ID is the node id (configured, kept in the database, or generated).
func (db *DB) ID() string { return db.node.ID() }

// Collection returns the handle of the collection name; the name is checked
// on each call.
func (db *DB) Collection(name string) *Collection { return db.node.Database().Collection(name) }

// Collections lists the collections holding live documents.
func (db *DB) Collections(ctx context.Context) ([]string, error) {
	return db.node.Database().Collections(ctx)
}

// Watch subscribes to the change feed after sequence number since: it
// replays the changes committed after since, then follows new ones, local
// and from peers, in commit order (since < 0: only changes from now on).
// Close the subscription when done.
func (db *DB) Watch(ctx context.Context, since int64) (*Subscription, error) {
	return db.node.Database().Watch(ctx, since)
}

// Status reports the node's sync state: peers, totals, recent errors.
func (db *DB) Status(ctx context.Context) Status { return db.node.Status().Snapshot(ctx) }

// Health checks the database and the network.
func (db *DB) Health(ctx context.Context) HealthReport { return db.node.Health().Check(ctx) }

// Stop stops the node: in-flight work finishes until ctx ends, then the
// database is closed. It is safe to call more than once.
func (db *DB) Stop(ctx context.Context) error { return db.node.Stop(ctx) }

// Close is Stop bounded by DefaultCloseTimeout.
func (db *DB) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultCloseTimeout)
	defer cancel()
	return db.Stop(ctx)
}
