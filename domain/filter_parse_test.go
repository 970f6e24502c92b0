package domain

import (
	"errors"
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
		{"number becomes float64", `{"n":3}`, Cmp{Op: OpEq, Path: "n", Value: float64(3)}},
		{"exponent number", `{"n":1.5e3}`, Cmp{Op: OpEq, Path: "n", Value: float64(1500)}},
		{"dotted path", `{"address.city":"Rome"}`, Cmp{Op: OpEq, Path: "address.city", Value: "Rome"}},
		{"gt", `{"age":{"$gt":30}}`, Cmp{Op: OpGt, Path: "age", Value: float64(30)}},
		{"each operator", `{"a":{"$eq":1},"b":{"$ne":1},"c":{"$gte":1},"d":{"$lt":1},"e":{"$lte":1},"f":{"$contains":"x"},"g":{"$ncontains":"y"}}`,
			And{Filters: []Filter{
				Cmp{Op: OpEq, Path: "a", Value: float64(1)},
				Cmp{Op: OpNe, Path: "b", Value: float64(1)},
				Cmp{Op: OpGte, Path: "c", Value: float64(1)},
				Cmp{Op: OpLt, Path: "d", Value: float64(1)},
				Cmp{Op: OpLte, Path: "e", Value: float64(1)},
				Cmp{Op: OpContains, Path: "f", Value: "x"},
				Cmp{Op: OpNotContains, Path: "g", Value: "y"},
			}}},
		{"two fields sorted into And", `{"city":"Rome","age":{"$gt":30}}`, And{Filters: []Filter{
			Cmp{Op: OpGt, Path: "age", Value: float64(30)},
			Cmp{Op: OpEq, Path: "city", Value: "Rome"},
		}}},
		{"several operators on one field", `{"age":{"$lt":65,"$gte":18}}`, And{Filters: []Filter{
			Cmp{Op: OpGte, Path: "age", Value: float64(18)},
			Cmp{Op: OpLt, Path: "age", Value: float64(65)},
		}}},
		{"in", `{"b":{"$in":[2,"x",null,false]}}`, In{Path: "b", Values: []any{float64(2), "x", nil, false}}},
		{"in empty", `{"b":{"$in":[]}}`, In{Path: "b", Values: []any{}}},
		{"or with in", `{"$or":[{"a":1},{"b":{"$in":[2,3]}}]}`, Or{Filters: []Filter{
			Cmp{Op: OpEq, Path: "a", Value: float64(1)},
			In{Path: "b", Values: []any{float64(2), float64(3)}},
		}}},
		{"and", `{"$and":[{"a":1},{"a":{"$ne":2}}]}`, And{Filters: []Filter{
			Cmp{Op: OpEq, Path: "a", Value: float64(1)},
			Cmp{Op: OpNe, Path: "a", Value: float64(2)},
		}}},
		{"empty and is true", `{"$and":[]}`, And{Filters: []Filter{}}},
		{"empty or is false", `{"$or":[]}`, Or{Filters: []Filter{}}},
		{"or of empty object", `{"$or":[{}]}`, Or{Filters: []Filter{And{Filters: []Filter{}}}}},
		{"nested logical", `{"$or":[{"$and":[{"a":1},{"b":2}]},{"c":{"$contains":"z"}}]}`, Or{Filters: []Filter{
			And{Filters: []Filter{Cmp{Op: OpEq, Path: "a", Value: float64(1)}, Cmp{Op: OpEq, Path: "b", Value: float64(2)}}},
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
		{"unknown field operator", `{"a":{"$regex":"x"}}`, `"$regex"`},
		{"unknown top operator", `{"$nor":[{"a":1}]}`, `"$nor"`},
		{"unknown operator beside known", `{"a":{"$gt":1,"$foo":2}}`, `"$foo"`},
		{"array value", `{"a":[1,2]}`, "scalar"},
		{"object value", `{"a":{"b":1}}`, "scalar"},
		{"empty object value", `{"a":{}}`, "scalar"},
		{"mixed operator object", `{"a":{"$gt":1,"b":2}}`, "scalar"},
		{"object operand", `{"a":{"$gt":{"x":1}}}`, "scalar"},
		{"array operand", `{"a":{"$eq":[1]}}`, "scalar"},
		{"in without array", `{"a":{"$in":3}}`, "$in needs an array"},
		{"in with object element", `{"a":{"$in":[{"x":1}]}}`, "scalar"},
		{"or without array", `{"$or":{"a":1}}`, "$or needs an array"},
		{"and with scalar element", `{"$and":[1]}`, "element 0"},
		{"or with array element", `{"$or":[[{"a":1}]]}`, "element 0"},
		{"empty segment", `{"a..b":1}`, "empty segment"},
		{"leading dot", `{".a":1}`, "empty segment"},
		{"trailing dot", `{"a.":1}`, "empty segment"},
		{"empty path", `{"":1}`, "empty"},
		{"quote in path", `{"a\"b":1}`, `'"'`},
		{"huge number", `{"a":1e999}`, "out of range"},
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
	for _, ok := range []string{"a", "a.b", "address.city.zip", "$x", "ü.ñ", "a b"} {
		require.NoError(t, ValidatePath(ok), ok)
	}
	for _, bad := range []string{"", ".", "a.", ".a", "a..b", `a"`, `x."y"`} {
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
	} {
		f.Add([]byte(s))
	}
	doc := map[string]any{"a": float64(1), "b": []any{float64(2), "x"}, "age": float64(40), "city": "Rome"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		flt, err := ParseFilter(raw)
		if err != nil {
			if CodeOf(err) != CodeInvalidArgument {
				t.Fatalf("error with code %s: %v", CodeOf(err), err)
			}
			return
		}
		if verr := ValidateQuery(Query{Filter: flt}); verr != nil {
			t.Fatalf("parsed filter fails validation: %v", verr)
		}
		_ = MatchValue(flt, doc)
	})
}
