package domain

// The query AST. Semantics (the in-memory evaluator in eval.go is the
// reference every store must match; the SQLite adapter is tested against it):
//
//   - A Path is a dotted JSON path ("address.city"); every segment is an
//     object key (no array indexing). Segments are non-empty and contain no
//     '"' character.
//   - Values in filters are JSON scalars: nil (null), bool, float64, string.
//     Numbers compare numerically, strings by bytes, bools false < true.
//     A comparison (Gt, Gte, Lt, Lte) between different kinds is false, and
//     so is any comparison against a missing field.
//   - Eq: the field equals the value (same kind). Eq nil matches null and a
//     missing field. Ne is exactly NOT Eq (so Ne matches missing fields).
//   - In: Eq against any of the values.
//   - Contains: a string field containing the string value as a substring
//     (case-sensitive), or an array field holding an element Eq to the value.
//     NotContains is exactly NOT Contains.
//   - And of nothing is true; Or of nothing is false.
//   - Order: by one path; kinds rank missing/null < bool < number < string <
//     array/object (arrays and objects compare by their JSON text); ties are
//     broken by key ascending. Desc reverses the value order but keeps ties
//     by key ascending.
//   - Skip then Take; Take <= 0 means no limit.

// Filter is a node of the query AST. A nil Filter matches everything.
type Filter interface{ isFilter() }

// CmpOp is a comparison operator.
type CmpOp int

const (
	OpEq CmpOp = iota
	OpNe
	OpGt
	OpGte
	OpLt
	OpLte
	OpContains
	OpNotContains
)

// Cmp compares the value at Path with Value.
type Cmp struct {
	Op    CmpOp
	Path  string
	Value any
}

// In matches when the value at Path equals any of Values.
type In struct {
	Path   string
	Values []any
}

// And matches when every filter matches.
type And struct{ Filters []Filter }

// Or matches when any filter matches.
type Or struct{ Filters []Filter }

func (Cmp) isFilter() {}
func (In) isFilter()  {}
func (And) isFilter() {}
func (Or) isFilter()  {}

// Order sorts results by the value at Path.
type Order struct {
	Path string
	Desc bool
}

// Query is a filter with ordering and paging.
type Query struct {
	Filter Filter
	// OrderBy nil means key ascending.
	OrderBy *Order
	Skip    int
	Take    int
}
