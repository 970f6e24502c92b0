package domain

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
)

// This file is the reference evaluator of the query semantics documented in
// query.go. Every store must return what ApplyQuery returns.
//
// Details the summary in query.go leaves implicit, fixed here:
//   - Values are compared after decoding with encoding/json (numbers are
//     float64). Filter values built in code may use any Go integer or float
//     type; they are compared as float64.
//   - Gt/Gte/Lt/Lte only hold between two bools, two numbers or two strings;
//     null, arrays and objects never compare (null >= null is false).
//   - Eq against a non-nil value never matches an array or object field.
//   - Contains on a string field needs a string value; on an array field an
//     element must be Eq to the value (so Contains nil matches a null element).
//   - Deleted documents (tombstones) never appear in results.

// Match decodes data (a document's JSON text) and reports whether f matches
// it. A nil f matches everything, even data that is not JSON.
func Match(f Filter, data []byte) (bool, error) {
	if f == nil {
		return true, nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return false, Errorf(CodeCorruption, "domain.Match", "document is not valid JSON: %w", err)
	}
	return MatchValue(f, v), nil
}

// MatchValue reports whether f matches v, a value decoded by encoding/json
// (map[string]any, []any, float64, string, bool, nil).
func MatchValue(f Filter, v any) bool {
	switch x := f.(type) {
	case nil:
		return true
	case Cmp:
		field, ok := LookupPath(v, x.Path)
		return matchCmp(x.Op, field, ok, normalize(x.Value))
	case *Cmp:
		return MatchValue(*x, v)
	case In:
		field, ok := LookupPath(v, x.Path)
		for _, want := range x.Values {
			if eq(field, ok, normalize(want)) {
				return true
			}
		}
		return false
	case *In:
		return MatchValue(*x, v)
	case And:
		for _, sub := range x.Filters {
			if !MatchValue(sub, v) {
				return false
			}
		}
		return true
	case *And:
		return MatchValue(*x, v)
	case Or:
		for _, sub := range x.Filters {
			if MatchValue(sub, v) {
				return true
			}
		}
		return false
	case *Or:
		return MatchValue(*x, v)
	}
	return false
}

// LookupPath follows a dotted path of object keys through v. It returns the
// value found (nil for a JSON null) and whether the path exists at all.
func LookupPath(v any, path string) (any, bool) {
	cur := v
	for {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		seg, rest, more := strings.Cut(path, ".")
		cur, ok = obj[seg]
		if !ok {
			return nil, false
		}
		if !more {
			return cur, true
		}
		path = rest
	}
}

func matchCmp(op CmpOp, field any, ok bool, want any) bool {
	switch op {
	case OpEq:
		return eq(field, ok, want)
	case OpNe:
		return !eq(field, ok, want)
	case OpGt, OpGte, OpLt, OpLte:
		if !ok {
			return false
		}
		c, comparable := compareScalars(field, want)
		if !comparable {
			return false
		}
		switch op {
		case OpGt:
			return c > 0
		case OpGte:
			return c >= 0
		case OpLt:
			return c < 0
		default:
			return c <= 0
		}
	case OpContains:
		return contains(field, ok, want)
	case OpNotContains:
		return !contains(field, ok, want)
	}
	return false
}

// eq: Eq nil matches null and missing; otherwise same kind and equal value.
func eq(field any, ok bool, want any) bool {
	if want == nil {
		return !ok || field == nil
	}
	if !ok {
		return false
	}
	c, comparable := compareScalars(field, want)
	return comparable && c == 0
}

func contains(field any, ok bool, want any) bool {
	if !ok {
		return false
	}
	switch x := field.(type) {
	case string:
		s, isStr := want.(string)
		return isStr && strings.Contains(x, s)
	case []any:
		for _, el := range x {
			if eq(el, true, want) {
				return true
			}
		}
	}
	return false
}

// compareScalars orders two bools, two numbers or two strings; any other
// pair is not comparable.
func compareScalars(a, b any) (int, bool) {
	switch x := a.(type) {
	case bool:
		y, ok := b.(bool)
		if !ok {
			return 0, false
		}
		return boolInt(x) - boolInt(y), true
	case float64:
		y, ok := b.(float64)
		if !ok {
			return 0, false
		}
		return cmp.Compare(x, y), true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	}
	return 0, false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// normalize turns filter values built in code (ints, float32, json.Number)
// into the float64 that decoded documents hold.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int8:
		return float64(x)
	case int16:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint:
		return float64(x)
	case uint8:
		return float64(x)
	case uint16:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
	}
	return v
}

// orderRank is the kind rank of the sort order: missing/null < bool <
// number < string < array/object.
func orderRank(v any, ok bool) int {
	if !ok || v == nil {
		return 0
	}
	switch v.(type) {
	case bool:
		return 1
	case float64:
		return 2
	case string:
		return 3
	}
	return 4
}

// CompareForOrder is the total order of query results on one field's value
// (aok/bok say whether the field exists): kinds rank missing/null < bool <
// number < string < array/object; within a kind bools false < true, numbers
// numerically, strings by bytes, arrays and objects by their canonical JSON
// text (object keys sorted, no HTML escaping).
func CompareForOrder(a any, aok bool, b any, bok bool) int {
	a, b = normalize(a), normalize(b)
	ra, rb := orderRank(a, aok), orderRank(b, bok)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch ra {
	case 0:
		return 0
	case 4:
		return bytes.Compare(canonicalJSON(a), canonicalJSON(b))
	}
	c, _ := compareScalars(a, b)
	return c
}

// canonicalJSON is the JSON text used to order arrays and objects.
func canonicalJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil // unreachable for values decoded from JSON
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// ValidateQuery checks a query built in code: valid paths, scalar filter
// values and a non-negative Skip.
func ValidateQuery(q Query) error {
	const op = "domain.ValidateQuery"
	if q.Skip < 0 {
		return Errorf(CodeInvalidArgument, op, "skip must not be negative, got %d", q.Skip)
	}
	if q.OrderBy != nil {
		if err := ValidatePath(q.OrderBy.Path); err != nil {
			return err
		}
	}
	return validateFilter(q.Filter)
}

func validateFilter(f Filter) error {
	const op = "domain.ValidateQuery"
	checkValue := func(path string, v any) error {
		switch normalize(v).(type) {
		case nil, bool, float64, string:
			return nil
		}
		return Errorf(CodeInvalidArgument, op, "field %q: filter value %v is not a JSON scalar", path, v)
	}
	switch x := f.(type) {
	case nil:
		return nil
	case Cmp:
		if x.Op < OpEq || x.Op > OpNotContains {
			return Errorf(CodeInvalidArgument, op, "field %q: unknown comparison operator %d", x.Path, int(x.Op))
		}
		if err := ValidatePath(x.Path); err != nil {
			return err
		}
		return checkValue(x.Path, x.Value)
	case *Cmp:
		return validateFilter(*x)
	case In:
		if err := ValidatePath(x.Path); err != nil {
			return err
		}
		for _, v := range x.Values {
			if err := checkValue(x.Path, v); err != nil {
				return err
			}
		}
		return nil
	case *In:
		return validateFilter(*x)
	case And:
		return validateAll(x.Filters)
	case *And:
		return validateAll(x.Filters)
	case Or:
		return validateAll(x.Filters)
	case *Or:
		return validateAll(x.Filters)
	}
	return Errorf(CodeInvalidArgument, op, "unsupported filter node %T", f)
}

func validateAll(fs []Filter) error {
	for _, f := range fs {
		if err := validateFilter(f); err != nil {
			return err
		}
	}
	return nil
}

// ApplyQuery runs q over docs in memory: drops tombstones, filters, orders
// (by key ascending when OrderBy is nil; otherwise by CompareForOrder, ties by
// key ascending, Desc reversing only the value order), then skips and takes.
// The input slice is not modified.
func ApplyQuery(q Query, docs []Document) ([]Document, error) {
	if err := ValidateQuery(q); err != nil {
		return nil, err
	}
	type row struct {
		doc   Document
		val   any
		found bool
	}
	rows := make([]row, 0, len(docs))
	for _, d := range docs {
		if d.Deleted {
			continue
		}
		var v any
		if err := json.Unmarshal(d.Data, &v); err != nil {
			return nil, Errorf(CodeCorruption, "domain.ApplyQuery", "document %s/%s is not valid JSON: %w", d.Collection, d.Key, err)
		}
		if !MatchValue(q.Filter, v) {
			continue
		}
		r := row{doc: d}
		if q.OrderBy != nil {
			r.val, r.found = LookupPath(v, q.OrderBy.Path)
		}
		rows = append(rows, r)
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		if q.OrderBy != nil {
			c := CompareForOrder(a.val, a.found, b.val, b.found)
			if q.OrderBy.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return strings.Compare(a.doc.Key, b.doc.Key)
	})
	if q.Skip >= len(rows) {
		return []Document{}, nil
	}
	rows = rows[q.Skip:]
	if q.Take > 0 && q.Take < len(rows) {
		rows = rows[:q.Take]
	}
	out := make([]Document, len(rows))
	for i := range rows {
		out[i] = rows[i].doc
	}
	return out, nil
}
