// Package nodeaccess hands the module's own tools the app.Node behind an
// entgldb.DB, which the DB keeps out of embedders' reach: the benchmark
// drives the Database directly and builds a second sync engine over its
// store. Package entgldb sets Node when it is initialised.
package nodeaccess

import "github.com/entgldb/entgldb-go/app"

// Node returns the node behind db, which must be an *entgldb.DB (it panics
// otherwise). The parameter is untyped because this package cannot import
// package entgldb, which imports it.
var Node func(db any) *app.Node
