package entgldb

import (
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// The data types an embedder uses, declared in the inner packages and named
// here so that this package is the only import needed.
type (
	// Collection is one collection of a DB: Put, PutIf, PutExpiring,
	// PutWith, Get, Delete, Batch, Find, Count, EnsureIndex.
	Collection = app.Collection
	// Batch is puts and deletes committed together, all or nothing.
	Batch = app.Batch
	// PutOptions are a write's precondition and expiry (Collection.PutWith).
	PutOptions = app.PutOptions
	// Document is a stored document.
	Document = domain.Document
	// Timestamp is a hybrid logical clock reading: a document version.
	Timestamp = domain.Timestamp
	// Subscription is a running Watch: read C() until it closes, then Err().
	Subscription = app.Subscription
	// Change is one committed change of the feed.
	Change = domain.Change
	// Op is what a change did (OpPut, OpDelete).
	Op = domain.Op

	// Status is a snapshot of the node's sync state.
	Status = ports.SyncStatus
	// PeerStatus is one peer's line in a Status.
	PeerStatus = ports.PeerStatus
	// HealthReport says whether the database and the network are fine.
	HealthReport = ports.HealthReport
)

// The operations of a Change.
const (
	OpPut    = domain.OpPut
	OpDelete = domain.OpDelete
)
