package domain

import (
	"encoding/binary"
	"encoding/json"
)

// Sort keys: byte strings whose bytes.Compare order is compareValues's
// order, so a store can sort on them without decoding anything (the SQLite
// adapter orders by them) and equal values have equal keys (the evaluator's
// $in sets are keyed by them).

// emptyArray is the sort value of a field holding []: MongoDB sorts it
// before null and missing.
type emptyArray struct{}

// Markers inside container keys: an element or field follows, or the
// container ends (so a prefix sorts first).
const (
	keyEnd  byte = 0x00
	keyMore byte = 0x01
)

// Number classes, before the magnitude.
const (
	numNegative byte = 1 + iota
	numZero
	numPositive
)

// SortKey is the key a document sorts by on path: MongoDB takes the
// smallest of the values the path reaches (array elements included)
// for an ascending sort, the largest for a descending one; a missing field
// sorts as null and an empty array before both.
func SortKey(doc any, path string, desc bool) []byte {
	return sortKeyOf(walkPath(doc, splitPath(path), nil), desc)
}

// sortKeyOf is the sort key of the values a path reached.
func sortKeyOf(reached []any, desc bool) []byte {
	var best any = absent{}
	first := true
	consider := func(v any) {
		if first {
			best, first = v, false
			return
		}
		c := compareValues(v, best)
		if desc && c > 0 || !desc && c < 0 {
			best = v
		}
	}
	for _, v := range reached {
		arr, isArr := v.([]any)
		switch {
		case !isArr:
			consider(v)
		case len(arr) == 0:
			consider(emptyArray{})
		default:
			for _, el := range arr {
				consider(el)
			}
		}
	}
	return appendKey(nil, best)
}

// valueKey is the key of one value: equal values, equal keys.
func valueKey(v any) string { return string(appendKey(nil, v)) }

func appendKey(b []byte, v any) []byte {
	switch x := v.(type) {
	case bool:
		if x {
			return append(b, kindBool, 1)
		}
		return append(b, kindBool, 0)
	case json.Number:
		return appendNumberKey(append(b, kindNumber), parseDecimal(string(x)))
	case string:
		return appendStringKey(append(b, kindString), x)
	case []any:
		b = append(b, kindArray)
		for _, el := range x {
			b = appendKey(append(b, keyMore), el)
		}
		return append(b, keyEnd)
	case map[string]any:
		b = append(b, kindObject)
		for _, k := range objectKeys(x) {
			b = appendStringKey(append(b, keyMore), k)
			b = appendKey(b, x[k])
		}
		return append(b, keyEnd)
	}
	return append(b, kindOf(v))
}

// appendStringKey writes s with 0x00 escaped as 0x00 0xFF and ends it with
// 0x00 0x01, so a prefix sorts before its extensions.
func appendStringKey(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = append(b, s[i])
		if s[i] == 0 {
			b = append(b, 0xFF)
		}
	}
	return append(b, 0, 1)
}

// appendNumberKey writes the class, then for non-zero values the biased
// exponent and the digits ending in 0x00; a negative value's magnitude
// bytes are inverted so a larger magnitude sorts first.
func appendNumberKey(b []byte, d decimal) []byte {
	switch d.sign {
	case 0:
		return append(b, numZero)
	case 1:
		b = append(b, numPositive)
	default:
		b = append(b, numNegative)
	}
	start := len(b)
	b = binary.BigEndian.AppendUint64(b, uint64(d.exp+1<<62))
	b = append(b, d.digits...)
	b = append(b, 0)
	if d.sign < 0 {
		for i := start; i < len(b); i++ {
			b[i] = ^b[i]
		}
	}
	return b
}
