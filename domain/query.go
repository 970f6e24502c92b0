package domain

// The query AST. The semantics are MongoDB's for the operators we share; the
// evaluator in eval.go is the reference every store must match (the SQLite
// adapter runs it inside SQLite and is tested against ApplyQuery).
//
//   - A Path is a dotted path ("address.city"). Segments are non-empty
//     UTF-8 and may hold any other character. Where a segment meets an
//     array, a segment of digits selects that element; any other segment
//     is looked up in each element that is an object.
//   - A path reaches a set of values (several through arrays of objects). A
//     predicate holds when it holds for one of them, or for an element of
//     one that is an array (implicit element matching); $size, $all's
//     whole-array case, $elemMatch and $contains look at arrays whole.
//   - Missing fields compare as null: {a: null} and {a: {$gte: null}} match
//     documents without a; $exists and $type tell the two apart.
//   - Values are any JSON. Numbers compare exactly (9007199254740993 is
//     not 9007199254740992; 1, 1.0 and 1e0 are equal). Comparisons ($gt,
//     $gte, $lt, $lte) hold only between values of the same kind; equality
//     too. Kinds order as MongoDB orders BSON types: null < numbers <
//     strings < objects < arrays < booleans. Objects compare by their fields
//     in key order (key, then value), arrays element by element.
//   - Ne, NotIn, NotContains and Not are exact negations, so they match
//     documents without the field.
//   - Order: by each Order in turn, then key ascending. A document sorts by
//     the smallest value its path reaches (array elements included) when
//     ascending, the largest when descending; missing sorts as null, an
//     empty array before null. Desc reverses the value order only: ties
//     still go by key ascending.
//   - Skip then Take; Take <= 0 means no limit.
//
// Built in code, And of nothing is true and Or of nothing is false;
// ParseFilter refuses empty $and, $or and $nor as MongoDB does.

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
	// OpContains: a string containing Value (a string) as a substring, or
	// an array holding an element equal to Value. Not MongoDB's.
	OpContains
	OpNotContains
)

// Cmp compares the value at Path with Value.
type Cmp struct {
	Op    CmpOp
	Path  string
	Value any
}

// In matches when the value at Path equals any of Values ($in).
type In struct {
	Path   string
	Values []any
}

// NotIn is exactly NOT In ($nin).
type NotIn struct {
	Path   string
	Values []any
}

// And matches when every filter matches.
type And struct{ Filters []Filter }

// Or matches when any filter matches.
type Or struct{ Filters []Filter }

// Nor matches when no filter matches.
type Nor struct{ Filters []Filter }

// Not matches when Filter does not ($not).
type Not struct{ Filter Filter }

// Exists matches when Path reaches a value (even null), or, with Exists
// false, when it reaches none.
type Exists struct {
	Path   string
	Exists bool
}

// Regex matches strings at Path that the RE2 Pattern matches. Options are
// MongoDB's i (case-insensitive), m (^ and $ at line breaks) and s (. also
// matches a newline).
type Regex struct {
	Path    string
	Pattern string
	Options string
}

// All matches when the value at Path equals each of Values ($all: each one
// an element of an array field, or the field itself). All of nothing
// matches nothing.
type All struct {
	Path   string
	Values []any
}

// Size matches arrays of exactly Len elements.
type Size struct {
	Path string
	Len  int
}

// ElemMatch matches arrays holding an element that Filter matches. Filter is
// evaluated with the element as the document: a field path looks inside
// elements that are objects, and the empty path "" is the element itself
// ({"$elemMatch": {"$gt": 5}} becomes Cmp{Op: OpGt, Path: "", Value: 5}).
type ElemMatch struct {
	Path   string
	Filter Filter
}

// Type matches values of one of Types: MongoDB's aliases "double", "int",
// "long", "string", "object", "array", "bool", "null" and "number". A JSON
// number is an "int" when it is an integer fitting 32 bits, a "long" when it
// fits 64, and a "double" otherwise.
type Type struct {
	Path  string
	Types []string
}

func (Cmp) isFilter()       {}
func (In) isFilter()        {}
func (NotIn) isFilter()     {}
func (And) isFilter()       {}
func (Or) isFilter()        {}
func (Nor) isFilter()       {}
func (Not) isFilter()       {}
func (Exists) isFilter()    {}
func (Regex) isFilter()     {}
func (All) isFilter()       {}
func (Size) isFilter()      {}
func (ElemMatch) isFilter() {}
func (Type) isFilter()      {}

// Order sorts results by the value at Path.
type Order struct {
	Path string
	Desc bool
}

// Query is a filter with ordering and paging.
type Query struct {
	Filter Filter
	// OrderBy, when set, is the first sort key; Sort follows it. Both
	// empty means key ascending.
	OrderBy *Order
	Sort    []Order
	Skip    int
	Take    int
}

// Orders lists the sort keys in order: OrderBy, then Sort.
func (q Query) Orders() []Order {
	if q.OrderBy == nil {
		return q.Sort
	}
	return append([]Order{*q.OrderBy}, q.Sort...)
}

// Limits of a filter, so that every filter a client can send is evaluated
// in bounded time and memory; a filter beyond one is INVALID_ARGUMENT
// naming it.
const (
	// MaxFilterDepth bounds how deeply a filter's objects and arrays nest.
	MaxFilterDepth = 100
	// MaxFilterTerms bounds a filter's operators and listed values
	// together ($in with 10,000 values is 10,001 terms).
	MaxFilterTerms = 100_000
	// MaxFilterBytes bounds a filter's JSON text.
	MaxFilterBytes = 8 << 20
	// MaxSortFields bounds how many sort keys a query has.
	MaxSortFields = 32
)
