package domain

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Reading only what a query reads: a filter or a sort key names a few
// top-level fields, and a store that hands over each document's text (the
// SQLite adapter does, row by row) need not decode the rest. decodeFields
// scans past the other members without building them; the result answers
// every path that starts at one of the wanted fields exactly as the whole
// document would.

const decodeOp = "domain.decodeFields"

// decodeFields decodes the members of the JSON object doc named in want
// (all of them when want is nil). A document that is not an object is
// decoded whole.
func decodeFields(doc string, want map[string]struct{}) (any, error) {
	if want == nil || !isObjectText(doc) {
		return DecodeJSON([]byte(doc))
	}
	out := make(map[string]any, len(want))
	err := eachMember(doc, func(key, value string) error {
		if _, ok := want[key]; !ok {
			return nil
		}
		v, err := decodeValue(value)
		out[key] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeField is decodeFields for one wanted member, without building a
// map: its value (the last one, as a whole decode keeps), or absent{}. A
// document that is not an object comes back whole, with isObject false.
func decodeField(doc, name string) (v any, isObject bool, err error) {
	if !isObjectText(doc) {
		v, err = DecodeJSON([]byte(doc))
		return v, false, err
	}
	var text string
	found := false
	if err := eachMember(doc, func(key, value string) error {
		if key == name {
			text, found = value, true
		}
		return nil
	}); err != nil {
		return nil, true, err
	}
	if !found {
		return absent{}, true, nil
	}
	v, err = decodeValue(text)
	return v, true, err
}

func isObjectText(doc string) bool {
	i := skipSpace(doc, 0)
	return i < len(doc) && doc[i] == '{'
}

// eachMember calls fn with the key and the value's text of each member of
// the JSON object doc (isObjectText), scanning past the values.
func eachMember(doc string, fn func(key, value string) error) error {
	i := skipSpace(doc, skipSpace(doc, 0)+1)
	if i < len(doc) && doc[i] == '}' {
		return nil
	}
	for {
		if i >= len(doc) || doc[i] != '"' {
			return Errorf(CodeCorruption, decodeOp, "document is not valid JSON: expected a key at byte %d", i)
		}
		end, err := skipString(doc, i)
		if err != nil {
			return err
		}
		key, err := decodeString(doc[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return Errorf(CodeCorruption, decodeOp, "document is not valid JSON: expected ':' at byte %d", i)
		}
		start := skipSpace(doc, i+1)
		end, err = skipValue(doc, start)
		if err != nil {
			return err
		}
		if err := fn(key, doc[start:end]); err != nil {
			return err
		}
		i = skipSpace(doc, end)
		switch {
		case i < len(doc) && doc[i] == ',':
			i = skipSpace(doc, i+1)
		case i < len(doc) && doc[i] == '}':
			return nil
		default:
			return Errorf(CodeCorruption, decodeOp, "document is not valid JSON: expected ',' or '}' at byte %d", i)
		}
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at i.
func skipValue(s string, i int) (int, error) {
	if i >= len(s) {
		return 0, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: unexpected end")
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for ; i < len(s); i++ {
			switch s[i] {
			case '"':
				end, err := skipString(s, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: unclosed container")
	}
	start := i
	for i < len(s) && !endsScalar(s[i]) {
		i++
	}
	if i == start {
		return 0, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: unexpected %q", s[i])
	}
	return i, nil
}

// skipString returns the end of the string literal starting at i. It
// jumps from quote to quote (IndexByte is vectorized): a backslash before
// the quote found escapes the byte after it, and the search goes on past.
func skipString(s string, i int) (int, error) {
	for i++; i <= len(s); {
		q := strings.IndexByte(s[i:], '"')
		if q < 0 {
			break
		}
		b := strings.IndexByte(s[i:i+q], '\\')
		if b < 0 {
			return i + q + 1, nil
		}
		i += b + 2
	}
	return 0, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: unclosed string")
}

// endsScalar: the bytes that end a number or literal.
func endsScalar(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

func decodeString(lit string) (string, error) {
	if !strings.ContainsRune(lit, '\\') && utf8.ValidString(lit) {
		return lit[1 : len(lit)-1], nil
	}
	var s string
	if err := json.Unmarshal([]byte(lit), &s); err != nil {
		return "", Errorf(CodeCorruption, decodeOp, "document is not valid JSON: %w", err)
	}
	return s, nil
}

// decodeValue decodes one JSON value, as DecodeJSON would, without
// encoding/json's reflection for the common shapes.
func decodeValue(text string) (any, error) {
	v, end, err := parseValue(text, 0)
	if err != nil {
		return nil, err
	}
	if skipSpace(text, end) != len(text) {
		return nil, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: data after a value")
	}
	return v, nil
}

// parseValue parses the JSON value at s[i:] (leading space allowed) and
// returns it and where it ends.
func parseValue(s string, i int) (any, int, error) {
	i = skipSpace(s, i)
	if i >= len(s) {
		return nil, 0, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: unexpected end")
	}
	switch c := s[i]; {
	case c == '{':
		obj := map[string]any{}
		i = skipSpace(s, i+1)
		if i < len(s) && s[i] == '}' {
			return obj, i + 1, nil
		}
		for {
			i = skipSpace(s, i)
			if i >= len(s) || s[i] != '"' {
				return nil, 0, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: expected a key at byte %d", i)
			}
			end, err := skipString(s, i)
			if err != nil {
				return nil, 0, err
			}
			key, err := decodeString(s[i:end])
			if err != nil {
				return nil, 0, err
			}
			i = skipSpace(s, end)
			if i >= len(s) || s[i] != ':' {
				return nil, 0, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: expected ':' at byte %d", i)
			}
			v, end, err := parseValue(s, i+1)
			if err != nil {
				return nil, 0, err
			}
			obj[key] = v
			i = skipSpace(s, end)
			if i < len(s) && s[i] == ',' {
				i++
				continue
			}
			if i < len(s) && s[i] == '}' {
				return obj, i + 1, nil
			}
			return nil, 0, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: expected ',' or '}' at byte %d", i)
		}
	case c == '[':
		arr := []any{}
		i = skipSpace(s, i+1)
		if i < len(s) && s[i] == ']' {
			return arr, i + 1, nil
		}
		for {
			v, end, err := parseValue(s, i)
			if err != nil {
				return nil, 0, err
			}
			arr = append(arr, v)
			i = skipSpace(s, end)
			if i < len(s) && s[i] == ',' {
				i++
				continue
			}
			if i < len(s) && s[i] == ']' {
				return arr, i + 1, nil
			}
			return nil, 0, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: expected ',' or ']' at byte %d", i)
		}
	case c == '"':
		end, err := skipString(s, i)
		if err != nil {
			return nil, 0, err
		}
		str, err := decodeString(s[i:end])
		return str, end, err
	}
	end, err := skipValue(s, i)
	if err != nil {
		return nil, 0, err
	}
	switch lit := s[i:end]; {
	case lit == "null":
		return nil, end, nil
	case lit == "true":
		return true, end, nil
	case lit == "false":
		return false, end, nil
	case isJSONNumber(lit):
		return json.Number(lit), end, nil
	}
	return nil, 0, Errorf(CodeCorruption, decodeOp, "document is not valid JSON: unexpected %q", s[i:end])
}

// MatchText matches a document's JSON text, decoding only the top-level
// fields the filter reads.
func (m *Matcher) MatchText(doc string) (bool, error) {
	v, err := decodeFields(doc, m.fields)
	if err != nil {
		return false, Errorf(CodeCorruption, "domain.Match", "document is not valid JSON: %w", err)
	}
	return m.match(v), nil
}

// SortKeyText is SortKey on a document's JSON text, decoding only the
// field the path starts at.
func SortKeyText(doc, path string, desc bool) ([]byte, error) {
	first, rest, dotted := strings.Cut(path, ".")
	v, isObject, err := decodeField(doc, first)
	switch {
	case err != nil:
		return nil, err
	case !isObject:
		return SortKey(v, path, desc), nil
	}
	if _, missing := v.(absent); missing {
		return appendKey(nil, absent{}), nil
	}
	var segs []string
	if dotted {
		segs = splitPath(rest)
	}
	return sortKeyOf(walkPath(v, segs, nil), desc), nil
}
