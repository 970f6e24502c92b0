package domain

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// The values queries compare: JSON decoded with numbers kept as their text
// (json.Number), so integers beyond 2^53 compare exactly. Kinds are ordered
// as MongoDB orders BSON types: null < numbers < strings < objects < arrays
// < booleans.

// Kind ranks, in MongoDB's BSON comparison order. kindEmptyArray exists only
// for sorting, where MongoDB puts an empty array before null.
const (
	kindEmptyArray byte = 1 + iota
	kindNull
	kindNumber
	kindString
	kindObject
	kindArray
	kindBool
)

// absent stands for a missing field among the values a path reaches. It
// compares as null; only $exists and $type tell it apart.
type absent struct{}

// DecodeJSON decodes a document as the query evaluator reads it: numbers
// stay json.Number.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, Errorf(CodeInvalidArgument, "domain.DecodeJSON", "data after the JSON value")
	}
	return v, nil
}

func kindOf(v any) byte {
	switch v.(type) {
	case nil, absent:
		return kindNull
	case bool:
		return kindBool
	case json.Number:
		return kindNumber
	case string:
		return kindString
	case map[string]any:
		return kindObject
	case []any:
		return kindArray
	case emptyArray:
		return kindEmptyArray
	}
	return kindNull
}

// compareValues is the total order of JSON values (missing as null): kind
// rank first, then numbers exactly, strings by bytes, objects by their
// fields in key order (key, then value), arrays element by element, false <
// true.
func compareValues(a, b any) int {
	ka, kb := kindOf(a), kindOf(b)
	if ka != kb {
		return cmp.Compare(ka, kb)
	}
	switch x := a.(type) {
	case json.Number:
		return compareNumbers(x, b.(json.Number))
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case []any:
		y := b.([]any)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := compareValues(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(x), len(y))
	case map[string]any:
		y := b.(map[string]any)
		kx, ky := objectKeys(x), objectKeys(y)
		for i := 0; i < len(kx) && i < len(ky); i++ {
			if c := strings.Compare(kx[i], ky[i]); c != 0 {
				return c
			}
			if c := compareValues(x[kx[i]], y[ky[i]]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(kx), len(ky))
	}
	return 0 // both null or missing
}

func objectKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// compareNumbers compares two JSON numbers exactly. Most pairs settle on
// int64 or float64; the decimal comparison takes the rest (integers past
// 2^63, and values a float64 cannot tell apart).
func compareNumbers(a, b json.Number) int {
	if x, err := strconv.ParseInt(string(a), 10, 64); err == nil {
		if y, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return cmp.Compare(x, y)
		}
	}
	fa, errA := strconv.ParseFloat(string(a), 64)
	fb, errB := strconv.ParseFloat(string(b), 64)
	if errA == nil && errB == nil && fa != fb {
		// Rounding to float64 is monotonic: different floats order
		// their exact values the same way.
		return cmp.Compare(fa, fb)
	}
	return parseDecimal(string(a)).compare(parseDecimal(string(b)))
}

// decimal is a JSON number as sign × 0.digits × 10^exp, digits without
// leading or trailing zeros (none at all for zero).
type decimal struct {
	sign   int // -1, 0 or 1
	exp    int64
	digits string
}

// maxDecimalExp clamps exponents: no value stored or queried comes near it
// (numbers that do not fit a double are refused), but the order stays total.
const maxDecimalExp = 1 << 40

func parseDecimal(s string) decimal {
	d := decimal{sign: 1}
	if strings.HasPrefix(s, "-") {
		d.sign, s = -1, s[1:]
	}
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	var e int64
	if hasExp {
		n, err := strconv.ParseInt(strings.TrimPrefix(expText, "+"), 10, 64)
		if err != nil || n > maxDecimalExp || n < -maxDecimalExp {
			n = maxDecimalExp
			if strings.HasPrefix(expText, "-") {
				n = -maxDecimalExp
			}
		}
		e = n
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	exp := int64(len(intPart)) + e
	i := 0
	for i < len(digits) && digits[i] == '0' {
		i++
		exp--
	}
	digits = strings.TrimRight(digits[i:], "0")
	if digits == "" {
		return decimal{}
	}
	d.exp, d.digits = exp, digits
	return d
}

func (d decimal) compare(o decimal) int {
	if d.sign != o.sign {
		return cmp.Compare(d.sign, o.sign)
	}
	c := cmp.Compare(d.exp, o.exp)
	if c == 0 {
		c = strings.Compare(d.digits, o.digits)
	}
	return c * d.sign
}

// NormalizeValue turns a filter value built in code into the form DecodeJSON
// gives: Go numbers become json.Number, slices and maps are
// normalized element by element. It refuses NaN, infinities and Go types
// that are not JSON.
func NormalizeValue(v any) (any, error) {
	const op = "domain.NormalizeValue"
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		if !isJSONNumber(string(x)) {
			return nil, Errorf(CodeInvalidArgument, op, "%q is not a JSON number", string(x))
		}
		if f, err := strconv.ParseFloat(string(x), 64); err != nil || math.IsInf(f, 0) {
			return nil, Errorf(CodeInvalidArgument, op, "number %s does not fit a double", string(x))
		}
		return x, nil
	case int, int8, int16, int32, int64:
		return json.Number(strconv.FormatInt(reflect.ValueOf(x).Int(), 10)), nil
	case uint, uint8, uint16, uint32, uint64:
		return json.Number(strconv.FormatUint(reflect.ValueOf(x).Uint(), 10)), nil
	case float32:
		return floatNumber(float64(x), 32)
	case float64:
		return floatNumber(x, 64)
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			n, err := NormalizeValue(el)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, el := range x {
			n, err := NormalizeValue(el)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return nil, Errorf(CodeInvalidArgument, op, "filter value %v (%T) is not a JSON value", v, v)
}

func floatNumber(f float64, bits int) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, Errorf(CodeInvalidArgument, "domain.NormalizeValue", "filter value %v is not a JSON number", f)
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits)), nil
}

// isJSONNumber reports whether s is a number in JSON's grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}
