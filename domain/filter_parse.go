package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseFilter parses a MongoDB query filter into the query AST:
// {"age":{"$gt":30},"city":"Rome"}, {"$or":[{"a":1},{"b":{"$in":[2,3]}}]}.
//
//   - A field key is a dotted path; a value that is not an object of
//     operators means $eq (an array or an object without operators is
//     compared whole, as MongoDB does).
//   - An object of operators gives one node per operator, joined by And.
//     Several keys in one object are joined by And, taken in byte order so
//     the same filter text always gives the same AST.
//   - Top-level operators: $and, $or, $nor (non-empty arrays of filters).
//     Field operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $not
//     $regex (with $options) $all $size $elemMatch $type, and our
//     $contains and $ncontains.
//   - Empty input, null and {} give a nil Filter (match everything).
//
// Every problem is an INVALID_ARGUMENT error naming the operator or the
// limit (MaxFilterBytes, MaxFilterDepth, MaxFilterTerms) it broke.
func ParseFilter(raw []byte) (Filter, error) {
	const op = "domain.ParseFilter"
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if len(trimmed) > MaxFilterBytes {
		return nil, Errorf(CodeInvalidArgument, op, "filter is %d bytes, the limit is %d", len(trimmed), MaxFilterBytes)
	}
	if NestingExceeds(trimmed, MaxFilterDepth) {
		return nil, Errorf(CodeInvalidArgument, op, "filter nests deeper than %d levels", MaxFilterDepth)
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
	if len(obj) == 0 {
		return nil, nil // {} matches everything
	}
	f, err := parseObject(obj)
	if err != nil {
		return nil, err
	}
	if _, err := CompileFilter(f); err != nil {
		return nil, err
	}
	return f, nil
}

// ValidatePath checks a dotted field path: valid UTF-8 made of non-empty
// segments. Any other character may appear in a segment.
func ValidatePath(path string) error {
	const op = "domain.ValidatePath"
	if path == "" {
		return Errorf(CodeInvalidArgument, op, "field path is empty")
	}
	if !utf8.ValidString(path) {
		return Errorf(CodeInvalidArgument, op, "field path is not valid UTF-8")
	}
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" {
			return Errorf(CodeInvalidArgument, op, "field path %q has an empty segment", path)
		}
	}
	return nil
}

const parseOp = "domain.ParseFilter"

// parseObject turns one filter object into a Filter; an empty object is
// And{}, which matches everything.
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

// parseLogical handles $and, $or and $nor; any other $key there is an
// unknown operator.
func parseLogical(name string, val any) (Filter, error) {
	if name != "$and" && name != "$or" && name != "$nor" {
		return nil, Errorf(CodeInvalidArgument, parseOp, "unknown operator %q", name)
	}
	arr, ok := val.([]any)
	if !ok || len(arr) == 0 {
		return nil, Errorf(CodeInvalidArgument, parseOp, "%s needs a non-empty array of filter objects, got %s", name, jsonKind(val))
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
	switch name {
	case "$and":
		return And{Filters: subs}, nil
	case "$or":
		return Or{Filters: subs}, nil
	}
	return Nor{Filters: subs}, nil
}

// operatorObject tells an object of operators ({"$gt": 1}) from a value to
// compare whole ({"x": 1}); mixing both is an error.
func operatorObject(path string, obj map[string]any) (bool, error) {
	ops := 0
	for k := range obj {
		if strings.HasPrefix(k, "$") {
			ops++
		}
	}
	switch {
	case ops == 0:
		return false, nil
	case ops == len(obj):
		return true, nil
	}
	return false, Errorf(CodeInvalidArgument, parseOp, "field %q: an object mixes operators and fields", path)
}

func hasOperatorKey(obj map[string]any) bool {
	for k := range obj {
		if strings.HasPrefix(k, "$") {
			return true
		}
	}
	return false
}

// parseField handles "path": value.
func parseField(path string, val any) ([]Filter, error) {
	obj, isObj := val.(map[string]any)
	if isObj {
		isOps, err := operatorObject(path, obj)
		if err != nil {
			return nil, err
		}
		if isOps {
			return parseOperators(path, obj)
		}
	}
	return []Filter{Cmp{Op: OpEq, Path: path, Value: val}}, nil
}

var cmpOps = map[string]CmpOp{
	"$eq": OpEq, "$ne": OpNe, "$gt": OpGt, "$gte": OpGte, "$lt": OpLt, "$lte": OpLte,
	"$contains": OpContains, "$ncontains": OpNotContains,
}

// parseOperators turns {"$gt": 1, "$lt": 5} on path into its nodes.
func parseOperators(path string, obj map[string]any) ([]Filter, error) {
	out := make([]Filter, 0, len(obj))
	if _, ok := obj["$options"]; ok {
		if _, ok := obj["$regex"]; !ok {
			return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: $options needs $regex", path)
		}
	}
	for _, name := range sortedKeys(obj) {
		if name == "$options" {
			continue
		}
		f, err := parseOperator(path, name, obj[name], obj)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if len(out) > 1 {
		return []Filter{And{Filters: out}}, nil
	}
	return out, nil
}

func parseOperator(path, name string, arg any, all map[string]any) (Filter, error) {
	if cop, ok := cmpOps[name]; ok {
		return Cmp{Op: cop, Path: path, Value: arg}, nil
	}
	switch name {
	case "$in", "$nin", "$all":
		arr, ok := arg.([]any)
		if !ok {
			return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: %s needs an array, got %s", path, name, jsonKind(arg))
		}
		for _, el := range arr {
			if obj, ok := el.(map[string]any); ok && hasOperatorKey(obj) {
				return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: %s lists values; operators such as $elemMatch are not supported inside it", path, name)
			}
		}
		switch name {
		case "$in":
			return In{Path: path, Values: arr}, nil
		case "$nin":
			return NotIn{Path: path, Values: arr}, nil
		}
		return All{Path: path, Values: arr}, nil
	case "$exists":
		switch x := arg.(type) {
		case bool:
			return Exists{Path: path, Exists: x}, nil
		case json.Number:
			f, err := x.Float64()
			return Exists{Path: path, Exists: err != nil || f != 0}, nil
		}
		return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: $exists needs a boolean, got %s", path, jsonKind(arg))
	case "$not":
		obj, ok := arg.(map[string]any)
		if !ok || len(obj) == 0 {
			return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: $not needs an object of operators, got %s", path, jsonKind(arg))
		}
		if isOps, err := operatorObject(path, obj); err != nil || !isOps {
			return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: $not needs an object of operators", path)
		}
		fs, err := parseOperators(path, obj)
		if err != nil {
			return nil, err
		}
		return Not{Filter: fs[0]}, nil
	case "$regex":
		pattern, ok := arg.(string)
		if !ok {
			return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: $regex needs a string, got %s", path, jsonKind(arg))
		}
		options := ""
		if o, ok := all["$options"]; ok {
			if options, ok = o.(string); !ok {
				return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: $options needs a string, got %s", path, jsonKind(o))
			}
		}
		return Regex{Path: path, Pattern: pattern, Options: options}, nil
	case "$size":
		n, ok := arg.(json.Number)
		var size int64
		var err error
		if ok {
			size, err = strconv.ParseInt(string(n), 10, 32)
		}
		if !ok || err != nil || size < 0 {
			return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: $size needs a non-negative integer", path)
		}
		return Size{Path: path, Len: int(size)}, nil
	case "$elemMatch":
		return parseElemMatch(path, arg)
	case "$type":
		return parseType(path, arg)
	}
	return nil, Errorf(CodeInvalidArgument, parseOp, "unknown operator %q", name)
}

// parseElemMatch reads {"$elemMatch": {...}}: operators apply to each
// element itself ({"$gt": 5}), a query to each element as a document
// ({"score": {"$gt": 5}}).
func parseElemMatch(path string, arg any) (Filter, error) {
	obj, ok := arg.(map[string]any)
	if !ok || len(obj) == 0 {
		return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: $elemMatch needs a non-empty object, got %s", path, jsonKind(arg))
	}
	logical := false
	for k := range obj {
		logical = logical || k == "$and" || k == "$or" || k == "$nor"
	}
	isOps, err := operatorObject(path, obj)
	if err != nil && !logical {
		return nil, err
	}
	if isOps && !logical {
		fs, err := parseOperators("", obj)
		if err != nil {
			return nil, err
		}
		return ElemMatch{Path: path, Filter: fs[0]}, nil
	}
	f, err := parseObject(obj)
	if err != nil {
		return nil, err
	}
	return ElemMatch{Path: path, Filter: f}, nil
}

// typeCodes are MongoDB's numeric $type codes for the types JSON has.
var typeCodes = map[string]string{"1": "double", "2": "string", "3": "object", "4": "array", "8": "bool", "10": "null", "16": "int", "18": "long"}

func parseType(path string, arg any) (Filter, error) {
	list, isList := arg.([]any)
	if !isList {
		list = []any{arg}
	}
	types := make([]string, 0, len(list))
	for _, el := range list {
		switch x := el.(type) {
		case string:
			types = append(types, x)
			continue
		case json.Number:
			if t, ok := typeCodes[string(x)]; ok {
				types = append(types, t)
				continue
			}
		}
		return nil, Errorf(CodeInvalidArgument, parseOp, "field %q: $type %v is not a type this database stores", path, el)
	}
	return Type{Path: path, Types: types}, nil
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
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		if len(x) == 0 {
			return "an empty array"
		}
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unsupported value"
}

// ValidateIndexPath checks a path to index: segments of letters, digits,
// '_' and '-' only (stores write index expressions with the path in them).
func ValidateIndexPath(path string) error {
	const op = "domain.ValidateIndexPath"
	if err := ValidatePath(path); err != nil {
		return err
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return Errorf(CodeInvalidArgument, op,
				"cannot index path %q: segments must be non-empty and use only letters, digits, '_' and '-'", path)
		}
	}
	return nil
}
