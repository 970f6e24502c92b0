package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// ParseSort reads a MongoDB sort document, {"age": -1, "name": 1}: its keys
// in the order written, 1 ascending and -1 descending. Empty input or null
// is no sort.
func ParseSort(raw []byte) ([]Order, error) {
	const op = "domain.ParseSort"
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	bad := func(format string, args ...any) ([]Order, error) {
		return nil, Errorf(CodeInvalidArgument, op, format, args...)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return bad("sort must be an object of fields to 1 or -1")
	}
	var orders []Order
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("sort is not valid JSON: %v", err)
		}
		path, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return bad("sort is not valid JSON: %v", err)
		}
		dir, _ := v.(json.Number)
		if dir != "1" && dir != "-1" {
			return bad("sort: %q must be 1 or -1", path)
		}
		if err := ValidatePath(path); err != nil {
			return nil, err
		}
		orders = append(orders, Order{Path: path, Desc: dir == "-1"})
		if len(orders) > MaxSortFields {
			return bad("sort has more than %d fields", MaxSortFields)
		}
	}
	if _, err := dec.Token(); err != nil {
		return bad("sort is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("sort has data after the object")
	}
	return orders, nil
}
