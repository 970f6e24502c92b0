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
	// NotIn matches when the value at a path equals none of the values ($nin).
	NotIn = domain.NotIn
	// Nor matches when no filter matches.
	Nor = domain.Nor
	// Not matches when its filter does not ($not).
	Not = domain.Not
	// Exists matches when a path reaches a value, or with Exists false none.
	Exists = domain.Exists
	// Regex matches strings by an RE2 pattern with MongoDB's i, m, s options.
	Regex = domain.Regex
	// All matches when the value at a path equals each of the values ($all).
	All = domain.All
	// Size matches arrays of a given length.
	Size = domain.Size
	// ElemMatch matches arrays holding an element its filter matches.
	ElemMatch = domain.ElemMatch
	// Type matches values of the named types ($type).
	Type = domain.Type
	// Order sorts results by the value at a path; Query.Sort lists several.
	Order = domain.Order
	// Projection picks the fields of a document (include or exclude paths).
	Projection = domain.Projection
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

// ParseSort parses a MongoDB sort document ({"age": -1, "name": 1}) into
// the orders of Query.Sort, in the order written.
func ParseSort(raw []byte) ([]Order, error) { return domain.ParseSort(raw) }

// ParseProjection parses a projection: ["a", "b.c"] or {"a": 1} to include
// paths, {"a": 0} to exclude them. Projection.Apply projects a document.
func ParseProjection(raw []byte) (*Projection, error) { return domain.ParseProjection(raw) }
