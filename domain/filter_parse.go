package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"sort"
	"strings"
)

// ParseFilter parses the MongoDB-style filter of INTERFACE.md into the query
// AST: {"age":{"$gt":30},"city":"Rome"}, {"$or":[{"a":1},{"b":{"$in":[2,3]}}]}.
//
//   - A field key is a dotted path; a scalar value means $eq.
//   - A field whose value is an object of operators gets one Cmp/In per
//     operator, joined by And when there are several.
//   - Several keys in one object are joined by And. Keys are taken in byte
//     order so the same filter text always gives the same AST.
//   - Empty input, null and {} give a nil Filter (match everything).
//
// Every problem is an INVALID_ARGUMENT error; an unknown operator's message
// names it.
func ParseFilter(raw []byte) (Filter, error) {
	const op = "domain.ParseFilter"
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, Errorf(CodeInvalidArgument, op, "filter is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Errorf(CodeInvalidArgument, op, "filter has data after the JSON object")
	}
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, Errorf(CodeInvalidArgument, op, "filter must be a JSON object, got %s", jsonKind(v))
	}
	f, err := parseObject(obj)
	if err != nil {
		return nil, err
	}
	if a, ok := f.(And); ok && len(a.Filters) == 0 && len(obj) == 0 {
		return nil, nil // {} matches everything
	}
	return f, nil
}

// ValidatePath checks a dotted field path: non-empty segments without '"'
// (the SQLite adapter quotes each segment in a JSON path).
func ValidatePath(path string) error {
	const op = "domain.ValidatePath"
	if path == "" {
		return Errorf(CodeInvalidArgument, op, "field path is empty")
	}
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" {
			return Errorf(CodeInvalidArgument, op, "field path %q has an empty segment", path)
		}
		if strings.ContainsRune(seg, '"') {
			return Errorf(CodeInvalidArgument, op, "field path %q contains '\"'", path)
		}
	}
	return nil
}

const parseOp = "domain.ParseFilter"

// parseObject turns one filter object into a Filter; never nil (an empty
// object is And{}, which matches everything).
func parseObject(obj map[string]any) (Filter, error) {
	keys := sortedKeys(obj)
	clauses := make([]Filter, 0, len(keys))
	for _, k := range keys {
		val := obj[k]
		if strings.HasPrefix(k, "$") {
			f, err := parseLogical(k, val)
			if err != nil {
				return nil, err
			}
			clauses = append(clauses, f)
			continue
		}
		if err := ValidatePath(k); err != nil {
			return nil, err
		}
		fs, err := parseField(k, val)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, fs...)
	}
	if len(clauses) == 1 {
		return clauses[0], nil
	}
	return And{Filters: clauses}, nil
}

// parseLogical handles a top-level $and / $or; any other $key there is an
// unknown operator.
func parseLogical(name string, val any) (Filter, error) {
	if name != "$and" && name != "$or" {
		return nil, Errorf(CodeInvalidArgument, parseOp, "unknown operator %q", name)
	}
	arr, ok := val.([]any)
	if !ok {
		return nil, Errorf(CodeInvalidArgument, parseOp, "%s needs an array of filter objects, got %s", name, jsonKind(val))
	}
	subs := make([]Filter, 0, len(arr))
	for i, el := range arr {
		o, ok := el.(map[string]any)
		if !ok {
			return nil, Errorf(CodeInvalidArgument, parseOp, "%s element %d must be a filter object, got %s", name, i, jsonKind(el))
		}
		f, err := parseObject(o)
		if err != nil {
			return nil, err
		}
		subs = append(subs, f)
	}
	if name == "$and" {
		return And{Filters: subs}, nil
	}
	return Or{Filters: subs}, nil
}

var cmpOps = map[string]CmpOp{
	"$eq": OpEq, "$ne": OpNe, "$gt": OpGt, "$gte": OpGte, "$lt": OpLt, "$lte": OpLte,
	"$contains": OpContains, "$ncontains": OpNotContains,
}

// parseField handles "path": value, where value is a scalar (implicit $eq)
// or an object of operators.
func parseField(path string, val any) ([]Filter, error) {
	obj, isObj := val.(map[string]any)
	if !isObj {
		s, err := scalar(path, "$eq", val)
		if err != nil {
			return nil, err
		}
		return []Filter{Cmp{Op: OpEq, Path: path, Value: s}}, nil
	}
	if len(obj) == 0 {
		return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: comparison value must be a JSON scalar, got an object", path)
	}
	out := make([]Filter, 0, len(obj))
	for _, name := range sortedKeys(obj) {
		if !strings.HasPrefix(name, "$") {
			return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: comparison value must be a JSON scalar, got an object (key %q is not an operator)", path, name)
		}
		arg := obj[name]
		if name == "$in" {
			arr, ok := arg.([]any)
			if !ok {
				return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: $in needs an array, got %s", path, jsonKind(arg))
			}
			vals := make([]any, 0, len(arr))
			for _, el := range arr {
				s, err := scalar(path, "$in", el)
				if err != nil {
					return nil, err
				}
				vals = append(vals, s)
			}
			out = append(out, In{Path: path, Values: vals})
			continue
		}
		cop, ok := cmpOps[name]
		if !ok {
			return nil, Errorf(CodeInvalidArgument, parseOp, "unknown operator %q", name)
		}
		s, err := scalar(path, name, arg)
		if err != nil {
			return nil, err
		}
		out = append(out, Cmp{Op: cop, Path: path, Value: s})
	}
	if len(out) > 1 {
		return []Filter{And{Filters: out}}, nil
	}
	return out, nil
}

// scalar converts a decoded JSON value to a filter value (nil, bool, float64,
// string) or reports why it cannot be one.
func scalar(path, opName string, v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: %s number %s is out of range", path, opName, x)
		}
		return f, nil
	}
	return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: %s value must be a JSON scalar, got %s", path, opName, jsonKind(v))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonKind names the JSON kind of a decoded value for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unsupported value"
}
