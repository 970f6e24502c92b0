package domain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFilter(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want Filter
	}{
		{"empty input", "", nil},
		{"whitespace", "  \n", nil},
		{"null", "null", nil},
		{"empty object", "{}", nil},
		{"implicit eq string", `{"city":"Rome"}`, Cmp{Op: OpEq, Path: "city", Value: "Rome"}},
		{"implicit eq null", `{"city":null}`, Cmp{Op: OpEq, Path: "city", Value: nil}},
		{"implicit eq bool", `{"ok":true}`, Cmp{Op: OpEq, Path: "ok", Value: true}},
		{"number stays json.Number", `{"n":3}`, Cmp{Op: OpEq, Path: "n", Value: json.Number("3")}},
		{"exponent number", `{"n":1.5e3}`, Cmp{Op: OpEq, Path: "n", Value: json.Number("1.5e3")}},
		{"dotted path", `{"address.city":"Rome"}`, Cmp{Op: OpEq, Path: "address.city", Value: "Rome"}},
		{"gt", `{"age":{"$gt":30}}`, Cmp{Op: OpGt, Path: "age", Value: json.Number("30")}},
		{"each operator", `{"a":{"$eq":1},"b":{"$ne":1},"c":{"$gte":1},"d":{"$lt":1},"e":{"$lte":1},"f":{"$contains":"x"},"g":{"$ncontains":"y"}}`,
			And{Filters: []Filter{
				Cmp{Op: OpEq, Path: "a", Value: json.Number("1")},
				Cmp{Op: OpNe, Path: "b", Value: json.Number("1")},
				Cmp{Op: OpGte, Path: "c", Value: json.Number("1")},
				Cmp{Op: OpLt, Path: "d", Value: json.Number("1")},
				Cmp{Op: OpLte, Path: "e", Value: json.Number("1")},
				Cmp{Op: OpContains, Path: "f", Value: "x"},
				Cmp{Op: OpNotContains, Path: "g", Value: "y"},
			}}},
		{"two fields sorted into And", `{"city":"Rome","age":{"$gt":30}}`, And{Filters: []Filter{
			Cmp{Op: OpGt, Path: "age", Value: json.Number("30")},
			Cmp{Op: OpEq, Path: "city", Value: "Rome"},
		}}},
		{"several operators on one field", `{"age":{"$lt":65,"$gte":18}}`, And{Filters: []Filter{
			Cmp{Op: OpGte, Path: "age", Value: json.Number("18")},
			Cmp{Op: OpLt, Path: "age", Value: json.Number("65")},
		}}},
		{"in", `{"b":{"$in":[2,"x",null,false]}}`, In{Path: "b", Values: []any{json.Number("2"), "x", nil, false}}},
		{"in empty", `{"b":{"$in":[]}}`, In{Path: "b", Values: []any{}}},
		{"or with in", `{"$or":[{"a":1},{"b":{"$in":[2,3]}}]}`, Or{Filters: []Filter{
			Cmp{Op: OpEq, Path: "a", Value: json.Number("1")},
			In{Path: "b", Values: []any{json.Number("2"), json.Number("3")}},
		}}},
		{"and", `{"$and":[{"a":1},{"a":{"$ne":2}}]}`, And{Filters: []Filter{
			Cmp{Op: OpEq, Path: "a", Value: json.Number("1")},
			Cmp{Op: OpNe, Path: "a", Value: json.Number("2")},
		}}},
		{"nor", `{"$nor":[{"a":1}]}`, Nor{Filters: []Filter{Cmp{Op: OpEq, Path: "a", Value: json.Number("1")}}}},
		{"array value", `{"a":[1,"x"]}`, Cmp{Op: OpEq, Path: "a", Value: []any{json.Number("1"), "x"}}},
		{"object value", `{"a":{"b":1}}`, Cmp{Op: OpEq, Path: "a", Value: map[string]any{"b": json.Number("1")}}},
		{"empty object value", `{"a":{}}`, Cmp{Op: OpEq, Path: "a", Value: map[string]any{}}},
		{"field names with any character", `{"a\\b\u0000c":1,"\"q\"":2}`, And{Filters: []Filter{
			Cmp{Op: OpEq, Path: `"q"`, Value: json.Number("2")},
			Cmp{Op: OpEq, Path: "a\\b\x00c", Value: json.Number("1")},
		}}},
		{"new operators", `{"a":{"$exists":false},"b":{"$nin":[1]},"c":{"$not":{"$gt":1}},"d":{"$regex":"^x","$options":"i"},"e":{"$all":[1]},"f":{"$size":2},"g":{"$type":["string",16]}}`,
			And{Filters: []Filter{
				Exists{Path: "a", Exists: false},
				NotIn{Path: "b", Values: []any{json.Number("1")}},
				Not{Filter: Cmp{Op: OpGt, Path: "c", Value: json.Number("1")}},
				Regex{Path: "d", Pattern: "^x", Options: "i"},
				All{Path: "e", Values: []any{json.Number("1")}},
				Size{Path: "f", Len: 2},
				Type{Path: "g", Types: []string{"string", "int"}},
			}}},
		{"elemMatch on elements", `{"a":{"$elemMatch":{"$gte":80,"$lt":85}}}`, ElemMatch{Path: "a", Filter: And{Filters: []Filter{
			Cmp{Op: OpGte, Path: "", Value: json.Number("80")}, Cmp{Op: OpLt, Path: "", Value: json.Number("85")}}}}},
		{"elemMatch on documents", `{"a":{"$elemMatch":{"p":"x","s":{"$gte":8}}}}`, ElemMatch{Path: "a", Filter: And{Filters: []Filter{
			Cmp{Op: OpEq, Path: "p", Value: "x"}, Cmp{Op: OpGte, Path: "s", Value: json.Number("8")}}}}},
		{"or of empty object", `{"$or":[{}]}`, Or{Filters: []Filter{And{Filters: []Filter{}}}}},
		{"nested logical", `{"$or":[{"$and":[{"a":1},{"b":2}]},{"c":{"$contains":"z"}}]}`, Or{Filters: []Filter{
			And{Filters: []Filter{Cmp{Op: OpEq, Path: "a", Value: json.Number("1")}, Cmp{Op: OpEq, Path: "b", Value: json.Number("2")}}},
			Cmp{Op: OpContains, Path: "c", Value: "z"},
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFilter([]byte(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		mention string // must appear in the message
	}{
		{"not json", `{"a":`, "not valid JSON"},
		{"trailing data", `{"a":1} {}`, "after"},
		{"array at top", `[1]`, "JSON object"},
		{"string at top", `"a"`, "JSON object"},
		{"unknown field operator", `{"a":{"$where":"x"}}`, `"$where"`},
		{"unknown top operator", `{"$expr":[{"a":1}]}`, `"$expr"`},
		{"empty and", `{"$and":[]}`, "non-empty"},
		{"empty or", `{"$or":[]}`, "non-empty"},
		{"empty nor", `{"$nor":[]}`, "non-empty"},
		{"options without regex", `{"a":{"$options":"i"}}`, "$options needs $regex"},
		{"bad regex", `{"a":{"$regex":"("}}`, "RE2"},
		{"bad regex option", `{"a":{"$regex":"x","$options":"x"}}`, "only i, m and s"},
		{"size not integer", `{"a":{"$size":1.5}}`, "$size"},
		{"size negative", `{"a":{"$size":-1}}`, "$size"},
		{"exists string", `{"a":{"$exists":"yes"}}`, "$exists"},
		{"not scalar", `{"a":{"$not":1}}`, "$not"},
		{"not fields", `{"a":{"$not":{"b":1}}}`, "$not"},
		{"elemMatch empty", `{"a":{"$elemMatch":{}}}`, "$elemMatch"},
		{"type unknown", `{"a":{"$type":"date"}}`, "date"},
		{"type code unknown", `{"a":{"$type":9}}`, "$type"},
		{"all without array", `{"a":{"$all":1}}`, "$all needs an array"},
		{"all of elemMatch", `{"a":{"$all":[{"$elemMatch":{"b":1}}]}}`, "not supported"},
		{"in of operators", `{"a":{"$in":[{"$gt":1}]}}`, "not supported"},
		{"too deep", strings.Repeat(`{"$and":[`, 60) + `{}` + strings.Repeat(`]}`, 60), "100 levels"},
		{"too many terms", `{"a":{"$in":[` + strings.Repeat(`1,`, MaxFilterTerms) + `1]}}`, "100000 terms"},
		{"too large", `{"a":"` + strings.Repeat("x", MaxFilterBytes) + `"}`, "the limit is"},
		{"unknown operator beside known", `{"a":{"$gt":1,"$foo":2}}`, `"$foo"`},
		{"mixed operator object", `{"a":{"$gt":1,"b":2}}`, "mixes operators and fields"},
		{"in without array", `{"a":{"$in":3}}`, "$in needs an array"},
		{"or without array", `{"$or":{"a":1}}`, "$or needs a non-empty array"},
		{"and with scalar element", `{"$and":[1]}`, "element 0"},
		{"or with array element", `{"$or":[[{"a":1}]]}`, "element 0"},
		{"empty segment", `{"a..b":1}`, "empty segment"},
		{"leading dot", `{".a":1}`, "empty segment"},
		{"trailing dot", `{"a.":1}`, "empty segment"},
		{"empty path", `{"":1}`, "empty"},
		{"huge number", `{"a":1e999}`, "does not fit a double"},
		{"error deep in or", `{"$or":[{"a":1},{"b":{"$bad":1}}]}`, `"$bad"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFilter([]byte(tc.in))
			require.Error(t, err)
			require.Nil(t, f)
			require.True(t, errors.Is(err, ErrInvalidArgument), "want INVALID_ARGUMENT, got %v", err)
			require.Equal(t, CodeInvalidArgument, CodeOf(err))
			require.Contains(t, err.Error(), tc.mention)
		})
	}
}

func TestValidatePath(t *testing.T) {
	for _, ok := range []string{"a", "a.b", "address.city.zip", "$x", "ü.ñ", "a b", `a"`, `x."y"`, `a\b`, "a\x00b"} {
		require.NoError(t, ValidatePath(ok), ok)
	}
	for _, bad := range []string{"", ".", "a.", ".a", "a..b", "a\xff"} {
		err := ValidatePath(bad)
		require.Error(t, err, bad)
		require.Equal(t, CodeInvalidArgument, CodeOf(err), bad)
	}
}

// FuzzParseFilter: parsing never panics, and a filter that parses can be
// evaluated and validated.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`{"age":{"$gt":30},"city":"Rome"}`,
		`{"$or":[{"a":1},{"b":{"$in":[2,3]}}]}`,
		`{"a.b":{"$contains":"x","$ncontains":"y"}}`,
		`{}`, `null`, `[]`, `{"$and":[{}]}`,
		`{"b":{"$elemMatch":{"c":{"$elemMatch":{"d":{"$exists":true}}}}}}`,
		`{"b.2.c.1.d":null,"a":{"$not":{"$in":[1,2]}},"$nor":[{"age":{"$type":["int",1]}}]}`,
		`{"city":{"$regex":"^r","$options":"im"},"b":{"$all":["x",2],"$size":3}}`,
		`{"n":{"$gte":9007199254740993,"$lt":1e300},"b":{"$nin":[[1],{"x":null}]}}`,
	} {
		f.Add([]byte(s))
	}
	doc, err := DecodeJSON([]byte(`{"a":1,"b":[2,"x",{"c":[1,{"d":null}]}],"age":40,"city":"Rome","n":9007199254740993}`))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, raw []byte) {
		flt, err := ParseFilter(raw)
		if err != nil {
			if CodeOf(err) != CodeInvalidArgument {
				t.Fatalf("error with code %s: %v", CodeOf(err), err)
			}
			return
		}
		m, verr := CompileFilter(flt)
		if verr != nil {
			t.Fatalf("parsed filter fails validation: %v", verr)
		}
		_ = m.Match(doc)
		_ = SortKey(doc, "b.c", true)
	})
}
