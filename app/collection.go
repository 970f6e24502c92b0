package app

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
)

// Collection is a Database bound to one collection name: the embedder's
// everyday handle (node.Collection("users").Put(ctx, "u1", doc)).
type Collection struct {
	db   *Database
	name string
}

// Collection returns the handle of the collection name. The name is checked
// on each call, not here.
func (db *Database) Collection(name string) *Collection {
	return &Collection{db: db, name: name}
}

// Name is the collection's name.
func (c *Collection) Name() string { return c.name }

// Put writes body (a JSON object) under key and returns its version.
func (c *Collection) Put(ctx context.Context, key string, body []byte) (domain.Timestamp, error) {
	return c.db.Put(ctx, c.name, key, body, nil)
}

// PutIf writes only if the stored live document has version expected
// (CONFLICT otherwise); a zero expected means "only if absent".
func (c *Collection) PutIf(ctx context.Context, key string, body []byte, expected domain.Timestamp) (domain.Timestamp, error) {
	return c.db.Put(ctx, c.name, key, body, &expected)
}

// Get returns the live document; NOT_FOUND when missing or deleted.
func (c *Collection) Get(ctx context.Context, key string) (domain.Document, error) {
	return c.db.Get(ctx, c.name, key)
}

// Delete removes key; NOT_FOUND when absent.
func (c *Collection) Delete(ctx context.Context, key string) (domain.Timestamp, error) {
	return c.db.Delete(ctx, c.name, key)
}

// Batch commits puts and deletes together, all or nothing.
func (c *Collection) Batch(ctx context.Context, b Batch) (map[string]domain.Timestamp, error) {
	return c.db.Batch(ctx, c.name, b)
}

// Find returns the live documents matching q.
func (c *Collection) Find(ctx context.Context, q domain.Query) ([]domain.Document, error) {
	return c.db.Find(ctx, c.name, q)
}

// Count returns how many live documents match f (nil: all).
func (c *Collection) Count(ctx context.Context, f domain.Filter) (int, error) {
	return c.db.Count(ctx, c.name, f)
}

// EnsureIndex creates an index on a JSON path.
func (c *Collection) EnsureIndex(ctx context.Context, path string) error {
	return c.db.EnsureIndex(ctx, c.name, path)
}
