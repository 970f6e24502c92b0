package domain

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file is the reference evaluator of the query semantics documented in
// query.go. Every store must return what ApplyQuery returns.

// Matcher is a compiled filter: paths split, values normalized, regular
// expressions compiled and $in lists hashed once, then applied to many
// documents.
type Matcher struct {
	match func(doc any) bool
	// fields are the top-level fields the filter reads.
	fields map[string]struct{}
}

// CompileFilter checks f (paths, values, operators, the MaxFilter* limits)
// and compiles it. A nil f matches everything.
func CompileFilter(f Filter) (*Matcher, error) {
	c := compiler{fields: map[string]struct{}{}}
	m, err := c.compile(f, 0, false)
	if err != nil {
		return nil, err
	}
	return &Matcher{match: m, fields: c.fields}, nil
}

// Match reports whether the filter matches doc, a value from DecodeJSON.
func (m *Matcher) Match(doc any) bool { return m.match(doc) }

// MatchJSON decodes a document's JSON text and matches it.
func (m *Matcher) MatchJSON(data []byte) (bool, error) {
	doc, err := DecodeJSON(data)
	if err != nil {
		return false, Errorf(CodeCorruption, "domain.Match", "document is not valid JSON: %w", err)
	}
	return m.match(doc), nil
}

// Match decodes data (a document's JSON text) and reports whether f matches
// it. A nil f matches everything, even data that is not JSON.
func Match(f Filter, data []byte) (bool, error) {
	if f == nil {
		return true, nil
	}
	m, err := CompileFilter(f)
	if err != nil {
		return false, err
	}
	return m.MatchJSON(data)
}

const compileOp = "domain.ValidateQuery"

type compiler struct {
	terms  int
	fields map[string]struct{}
	// namesField: the $elemMatch filter being compiled names a field.
	namesField bool
}

type pred = func(v any) bool

// count charges n terms against MaxFilterTerms.
func (c *compiler) count(n int) error {
	c.terms += n
	if c.terms > MaxFilterTerms {
		return Errorf(CodeInvalidArgument, compileOp, "filter has more than %d terms (operators and listed values)", MaxFilterTerms)
	}
	return nil
}

// compile turns f into a predicate on a document; inElem allows the empty
// path (the element itself) inside $elemMatch.
func (c *compiler) compile(f Filter, depth int, inElem bool) (pred, error) {
	if depth > MaxFilterDepth {
		return nil, Errorf(CodeInvalidArgument, compileOp, "filter nests deeper than %d levels", MaxFilterDepth)
	}
	if err := c.count(1); err != nil {
		return nil, err
	}
	switch x := f.(type) {
	case nil:
		return func(any) bool { return true }, nil
	case *Cmp:
		return c.compile(*x, depth, inElem)
	case *In:
		return c.compile(*x, depth, inElem)
	case *And:
		return c.compile(*x, depth, inElem)
	case *Or:
		return c.compile(*x, depth, inElem)
	case And:
		subs, err := c.list(x.Filters, depth, inElem)
		return func(v any) bool {
			for _, s := range subs {
				if !s(v) {
					return false
				}
			}
			return true
		}, err
	case Or:
		subs, err := c.list(x.Filters, depth, inElem)
		return anyOf(subs), err
	case Nor:
		subs, err := c.list(x.Filters, depth, inElem)
		return not(anyOf(subs)), err
	case Not:
		sub, err := c.compile(x.Filter, depth+1, inElem)
		return not(sub), err
	case Cmp:
		return c.cmp(x, inElem)
	case In:
		p, err := c.in(x.Path, x.Values, inElem)
		return p, err
	case NotIn:
		p, err := c.in(x.Path, x.Values, inElem)
		return not(p), err
	case Exists:
		segs, err := c.fieldPath(x.Path, inElem)
		if err != nil {
			return nil, err
		}
		return func(doc any) bool {
			found := false
			for _, v := range walkPath(doc, segs, nil) {
				if _, miss := v.(absent); !miss {
					found = true
					break
				}
			}
			return found == x.Exists
		}, nil
	case Regex:
		re, err := compileRegex(x.Pattern, x.Options)
		if err != nil {
			return nil, err
		}
		return c.leaf(x.Path, inElem, true, func(v any) bool {
			s, ok := v.(string)
			return ok && re.MatchString(s)
		})
	case All:
		if err := c.count(len(x.Values)); err != nil {
			return nil, err
		}
		if len(x.Values) == 0 {
			return func(any) bool { return false }, nil
		}
		subs := make([]pred, 0, len(x.Values))
		for _, want := range x.Values {
			p, err := c.cmp(Cmp{Op: OpEq, Path: x.Path, Value: want}, inElem)
			if err != nil {
				return nil, err
			}
			subs = append(subs, p)
		}
		return func(v any) bool {
			for _, s := range subs {
				if !s(v) {
					return false
				}
			}
			return true
		}, nil
	case Size:
		if x.Len < 0 {
			return nil, Errorf(CodeInvalidArgument, compileOp, "field %q: $size must not be negative, got %d", x.Path, x.Len)
		}
		return c.leaf(x.Path, inElem, false, func(v any) bool {
			arr, ok := v.([]any)
			return ok && len(arr) == x.Len
		})
	case ElemMatch:
		// A filter naming fields looks only at object elements, as
		// MongoDB's does; one on the element itself ("") at every element.
		outer := c.namesField
		c.namesField = false
		sub, err := c.compile(x.Filter, depth+1, true)
		objectsOnly := c.namesField
		c.namesField = outer
		if err != nil {
			return nil, err
		}
		return c.leaf(x.Path, inElem, false, func(v any) bool {
			arr, ok := v.([]any)
			if !ok {
				return false
			}
			for _, el := range arr {
				if _, isObj := el.(map[string]any); objectsOnly && !isObj {
					continue
				}
				if sub(el) {
					return true
				}
			}
			return false
		})
	case Type:
		if len(x.Types) == 0 {
			return nil, Errorf(CodeInvalidArgument, compileOp, "field %q: $type needs at least one type", x.Path)
		}
		for _, t := range x.Types {
			if !knownTypes[t] {
				return nil, Errorf(CodeInvalidArgument, compileOp, "field %q: unknown $type %q", x.Path, t)
			}
		}
		return c.leaf(x.Path, inElem, true, func(v any) bool {
			return slices.ContainsFunc(x.Types, func(t string) bool { return hasType(v, t) })
		})
	}
	return nil, Errorf(CodeInvalidArgument, compileOp, "unsupported filter node %T", f)
}

func (c *compiler) list(fs []Filter, depth int, inElem bool) ([]pred, error) {
	subs := make([]pred, 0, len(fs))
	for _, f := range fs {
		p, err := c.compile(f, depth+1, inElem)
		if err != nil {
			return nil, err
		}
		subs = append(subs, p)
	}
	return subs, nil
}

func anyOf(subs []pred) pred {
	return func(v any) bool {
		for _, s := range subs {
			if s(v) {
				return true
			}
		}
		return false
	}
}

func not(p pred) pred { return func(v any) bool { return !p(v) } }

// leaf applies p to each value path reaches and, with expand, to the
// elements of each that is an array.
func (c *compiler) leaf(path string, inElem, expand bool, p pred) (pred, error) {
	segs, err := c.fieldPath(path, inElem)
	if err != nil {
		return nil, err
	}
	expand = expand && len(segs) > 0
	return func(doc any) bool {
		var buf [4]any
		for _, v := range walkPath(doc, segs, buf[:0]) {
			if p(v) {
				return true
			}
			if arr, ok := v.([]any); ok && expand {
				if slices.ContainsFunc(arr, p) {
					return true
				}
			}
		}
		return false
	}, nil
}

func (c *compiler) cmp(x Cmp, inElem bool) (pred, error) {
	want, err := NormalizeValue(x.Value)
	if err != nil {
		return nil, Errorf(CodeInvalidArgument, compileOp, "field %q: %w", x.Path, err)
	}
	switch x.Op {
	case OpEq, OpNe:
		p, err := c.leaf(x.Path, inElem, true, func(v any) bool { return compareValues(v, want) == 0 })
		if x.Op == OpNe && err == nil {
			p = not(p)
		}
		return p, err
	case OpGt, OpGte, OpLt, OpLte:
		kind := kindOf(want)
		return c.leaf(x.Path, inElem, true, func(v any) bool {
			if kindOf(v) != kind {
				return false
			}
			r := compareValues(v, want)
			switch x.Op {
			case OpGt:
				return r > 0
			case OpGte:
				return r >= 0
			case OpLt:
				return r < 0
			}
			return r <= 0
		})
	case OpContains, OpNotContains:
		p, err := c.leaf(x.Path, inElem, false, func(v any) bool { return contains(v, want) })
		if x.Op == OpNotContains && err == nil {
			p = not(p)
		}
		return p, err
	}
	return nil, Errorf(CodeInvalidArgument, compileOp, "field %q: unknown comparison operator %d", x.Path, int(x.Op))
}

// smallIn is the list length up to which $in compares one by one instead of
// hashing.
const smallIn = 8

func (c *compiler) in(path string, values []any, inElem bool) (pred, error) {
	if err := c.count(len(values)); err != nil {
		return nil, err
	}
	wants := make([]any, len(values))
	for i, v := range values {
		n, err := NormalizeValue(v)
		if err != nil {
			return nil, Errorf(CodeInvalidArgument, compileOp, "field %q: %w", path, err)
		}
		wants[i] = n
	}
	if len(wants) <= smallIn {
		return c.leaf(path, inElem, true, func(v any) bool {
			return slices.ContainsFunc(wants, func(w any) bool { return compareValues(v, w) == 0 })
		})
	}
	set := make(map[string]struct{}, len(wants))
	for _, w := range wants {
		set[valueKey(w)] = struct{}{}
	}
	return c.leaf(path, inElem, true, func(v any) bool {
		_, ok := set[valueKey(v)]
		return ok
	})
}

// contains is $contains: a substring of a string, or an element of an array.
func contains(v, want any) bool {
	switch x := v.(type) {
	case string:
		s, ok := want.(string)
		return ok && strings.Contains(x, s)
	case []any:
		return slices.ContainsFunc(x, func(el any) bool { return compareValues(el, want) == 0 })
	}
	return false
}

// fieldPath validates and splits a path, noting its first field; the empty
// path, the element itself, exists only inside $elemMatch.
func (c *compiler) fieldPath(path string, inElem bool) ([]string, error) {
	if path == "" && inElem {
		return nil, nil
	}
	if err := ValidatePath(path); err != nil {
		return nil, err
	}
	segs := splitPath(path)
	if inElem {
		c.namesField = true
	} else {
		c.fields[segs[0]] = struct{}{}
	}
	return segs, nil
}

func splitPath(path string) []string {
	if path == "" {
		return nil
	}
	return strings.Split(path, ".")
}

// walkPath appends to out the values segs reach from v, MongoDB style: an
// object's field; in an array, the element a digits segment selects, or
// else the field in each element that is an object. Where nothing is
// reached it appends absent{}.
func walkPath(v any, segs []string, out []any) []any {
	if len(segs) == 0 {
		return append(out, v)
	}
	switch x := v.(type) {
	case map[string]any:
		child, ok := x[segs[0]]
		if !ok {
			return append(out, absent{})
		}
		return walkPath(child, segs[1:], out)
	case []any:
		if i, ok := arrayIndex(segs[0]); ok {
			if i < len(x) {
				return walkPath(x[i], segs[1:], out)
			}
			return append(out, absent{})
		}
		n := len(out)
		for _, el := range x {
			if _, isObj := el.(map[string]any); isObj {
				out = walkPath(el, segs, out)
			}
		}
		if len(out) == n {
			out = append(out, absent{})
		}
		return out
	}
	return append(out, absent{})
}

// arrayIndex reads a path segment of decimal digits as an array index.
func arrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 {
		return 0, false
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(seg)
	return n, err == nil
}

// compileRegex builds a $regex: RE2 (linear time by construction) with
// MongoDB's options i, m and s.
func compileRegex(pattern, options string) (*regexp.Regexp, error) {
	flags := ""
	for _, o := range options {
		switch o {
		case 'i', 'm', 's':
			if !strings.ContainsRune(flags, o) {
				flags += string(o)
			}
		default:
			return nil, Errorf(CodeInvalidArgument, compileOp, "$options %q: only i, m and s are supported", options)
		}
	}
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, Errorf(CodeInvalidArgument, compileOp, "$regex is not valid RE2 syntax: %w", err)
	}
	return re, nil
}

var knownTypes = map[string]bool{
	"double": true, "int": true, "long": true, "number": true, "string": true,
	"object": true, "array": true, "bool": true, "null": true,
}

func hasType(v any, t string) bool {
	switch x := v.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "bool"
	case string:
		return t == "string"
	case map[string]any:
		return t == "object"
	case []any:
		return t == "array"
	case json.Number:
		return t == "number" || t == numberType(x)
	}
	return false // missing has no type
}

// numberType is the BSON type mongoimport gives a JSON number.
func numberType(n json.Number) string {
	s := string(n)
	if strings.ContainsAny(s, ".eE") {
		return "double"
	}
	i, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		return "double"
	case i >= -1<<31 && i < 1<<31:
		return "int"
	}
	return "long"
}

// ValidateQuery checks a query built in code: the filter (CompileFilter),
// valid sort paths and a non-negative Skip.
func ValidateQuery(q Query) error {
	_, err := validateQuery(q)
	return err
}

func validateQuery(q Query) (*Matcher, error) {
	const op = "domain.ValidateQuery"
	if q.Skip < 0 {
		return nil, Errorf(CodeInvalidArgument, op, "skip must not be negative, got %d", q.Skip)
	}
	orders := q.Orders()
	if len(orders) > MaxSortFields {
		return nil, Errorf(CodeInvalidArgument, op, "a query sorts by at most %d fields, got %d", MaxSortFields, len(orders))
	}
	for _, o := range orders {
		if err := ValidatePath(o.Path); err != nil {
			return nil, err
		}
	}
	return CompileFilter(q.Filter)
}

// ApplyQuery runs q over docs in memory: drops tombstones, filters, orders
// (by key ascending without sort keys; otherwise by each SortKey in turn,
// then key ascending), then skips and takes. The input slice is not
// modified.
func ApplyQuery(q Query, docs []Document) ([]Document, error) {
	m, err := validateQuery(q)
	if err != nil {
		return nil, err
	}
	orders := q.Orders()
	type row struct {
		doc  Document
		keys [][]byte
	}
	rows := make([]row, 0, len(docs))
	for _, d := range docs {
		if d.Deleted {
			continue
		}
		v, err := DecodeJSON(d.Data)
		if err != nil {
			return nil, Errorf(CodeCorruption, "domain.ApplyQuery", "document %s/%s is not valid JSON: %w", d.Collection, d.Key, err)
		}
		if !m.Match(v) {
			continue
		}
		r := row{doc: d}
		for _, o := range orders {
			r.keys = append(r.keys, SortKey(v, o.Path, o.Desc))
		}
		rows = append(rows, r)
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		for i, o := range orders {
			c := bytes.Compare(a.keys[i], b.keys[i])
			if o.Desc {
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
