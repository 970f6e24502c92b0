// Package entgldb is the facade for embedders: Open starts a node from a
// configuration and returns it running.
//
//	node, err := entgldb.Open(ctx, entgldb.Options{Config: config.Default()})
//	...
//	v, err := node.Collection("users").Put(ctx, "u1", []byte(`{"name":"Ada"}`))
//	...
//	node.Stop(ctx)
package entgldb

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
)

// Re-exported so embedders need only this package for everyday use.
type (
	// Node is a running node.
	Node = app.Node
	// Database is the node's documents.
	Database = app.Database
	// Collection is one collection of a Database.
	Collection = app.Collection
	// Document is a stored document.
	Document = domain.Document
	// Timestamp is a hybrid logical clock reading: a document version.
	Timestamp = domain.Timestamp
	// Error is the typed error every operation returns.
	Error = domain.Error
	// Config is the appsettings.json "EntglDb" object.
	Config = config.Config
)

// DefaultConfig returns the configuration of INTERFACE.md's defaults.
func DefaultConfig() Config { return config.Default() }

// Options configure Open.
type Options struct {
	// Config is the node configuration (start from DefaultConfig()).
	Config Config
	// Logger receives the node's logs (nil: none).
	Logger *zap.Logger
}

// Open builds a node through the Wire injector and starts it. The returned
// node owns every resource; Stop releases them.
func Open(ctx context.Context, opts Options) (*Node, error) {
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	node, cleanup, err := newNode(ctx, opts.Config, logger)
	if err != nil {
		return nil, err
	}
	node.AddCleanup(cleanup)
	if err := node.Start(ctx); err != nil {
		return nil, err
	}
	logNodeStarted(logger, opts.Config, node, time.Since(start))
	return node, nil
}
