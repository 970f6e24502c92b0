package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"
)

// Component is a part of a running node with a lifecycle: the sync listener,
// discovery, the sync engine, the HTTP server, background loops, the store.
type Component interface {
	Name() string
	Start(ctx context.Context) error
	// Stop finishes in-flight work within ctx's deadline and releases
	// everything the component owns; it waits for its goroutines.
	Stop(ctx context.Context) error
}

// ComponentFunc adapts a pair of functions to Component.
type ComponentFunc struct {
	ComponentName string
	StartFunc     func(ctx context.Context) error
	StopFunc      func(ctx context.Context) error
}

// Name implements Component.
func (c ComponentFunc) Name() string { return c.ComponentName }

// Start implements Component.
func (c ComponentFunc) Start(ctx context.Context) error {
	if c.StartFunc == nil {
		return nil
	}
	return c.StartFunc(ctx)
}

// Stop implements Component.
func (c ComponentFunc) Stop(ctx context.Context) error {
	if c.StopFunc == nil {
		return nil
	}
	return c.StopFunc(ctx)
}

// Node is a running entgldb node: the Database an embedder reads and writes,
// plus the components that keep it in sync. Components start in the order
// given and stop in reverse, so the store (first) closes last.
type Node struct {
	id         string
	db         *Database
	status     *StatusTracker
	health     *HealthCheck
	components []Component
	logger     *zap.Logger

	mu       sync.Mutex
	started  []Component
	cleanups []func()
}

// NewNode assembles a node; nothing runs until Start.
func NewNode(id string, db *Database, status *StatusTracker, health *HealthCheck, logger *zap.Logger, components ...Component) *Node {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Node{id: id, db: db, status: status, health: health, components: components, logger: logger}
}

// ID is the node id.
func (n *Node) ID() string { return n.id }

// Database is the embedder's entry point for reads and writes.
func (n *Node) Database() *Database { return n.db }

// Collection is shorthand for Database().Collection(name).
func (n *Node) Collection(name string) *Collection { return n.db.Collection(name) }

// Status returns the sync status tracker.
func (n *Node) Status() *StatusTracker { return n.status }

// Health returns the health check.
func (n *Node) Health() *HealthCheck { return n.health }

// AddCleanup registers f to run after every component has stopped (the
// composition root's resource cleanup: closing the store last).
func (n *Node) AddCleanup(f func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cleanups = append(n.cleanups, f)
}

// Start starts every component in order. If one fails, those already started
// are stopped (in reverse) and the error names the component.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.components {
		if err := c.Start(ctx); err != nil {
			_ = n.stopLocked(context.WithoutCancel(ctx))
			return fmt.Errorf("node start: %s: %w", c.Name(), err)
		}
		n.started = append(n.started, c)
	}
	return nil
}

// Stop stops every started component in reverse order within ctx's deadline.
// It is safe to call more than once.
func (n *Node) Stop(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopLocked(ctx)
}

func (n *Node) stopLocked(ctx context.Context) error {
	var errs []error
	for i := len(n.started) - 1; i >= 0; i-- {
		c := n.started[i]
		if err := c.Stop(ctx); err != nil {
			n.logger.Error("component stop failed", zap.String("component", c.Name()), zap.Error(err))
			errs = append(errs, fmt.Errorf("%s: %w", c.Name(), err))
		}
	}
	n.started = nil
	for i := len(n.cleanups) - 1; i >= 0; i-- {
		n.cleanups[i]()
	}
	n.cleanups = nil
	return errors.Join(errs...)
}
