package entgldb

import "github.com/entgldb/entgldb-go/domain"

// The query types of Collection.Find and Count (semantics: domain/query.go).
type (
	// Query is a filter with ordering and paging.
	Query = domain.Query
	// Filter is a node of the query AST; nil matches everything.
	Filter = domain.Filter
	// Cmp compares the value at a dotted JSON path with a value.
	Cmp = domain.Cmp
	// CmpOp is a comparison operator of Cmp.
	CmpOp = domain.CmpOp
	// In matches when the value at a path equals any of the values.
	In = domain.In
	// And matches when every filter matches.
	And = domain.And
	// Or matches when any filter matches.
	Or = domain.Or
	// Order sorts results by the value at a path.
	Order = domain.Order
)

// The comparison operators of Cmp.
const (
	OpEq          = domain.OpEq
	OpNe          = domain.OpNe
	OpGt          = domain.OpGt
	OpGte         = domain.OpGte
	OpLt          = domain.OpLt
	OpLte         = domain.OpLte
	OpContains    = domain.OpContains
	OpNotContains = domain.OpNotContains
)

// ParseFilter parses a MongoDB-style JSON filter ({"age": {"$gt": 30}})
// into a Filter.
func ParseFilter(raw []byte) (Filter, error) { return domain.ParseFilter(raw) }
