package entgldb

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"

	"github.com/google/uuid"

	"github.com/entgldb/entgldb-go/domain"
)

// Typed helpers map Go structs to JSON documents. The key is the string
// field tagged `entgldb:"key"`, or else the string field named ID. Put
// generates a random UUID for an empty key; when v is a pointer the
// generated key is also written back into the caller's struct.

// Put stores v as JSON and returns its key and version.
func Put[T any](ctx context.Context, c *Collection, v T) (key string, version Timestamp, err error) {
	return PutWith(ctx, c, v, PutOptions{})
}

// PutWith is Put with options: a precondition, an expiry.
func PutWith[T any](ctx context.Context, c *Collection, v T, opts PutOptions) (key string, version Timestamp, err error) {
	const op = "entgldb.Put"
	rv := reflect.ValueOf(&v).Elem()
	// Work on an addressable struct: the caller's (through its pointer) or
	// our copy of a value.
	sv := rv
	for sv.Kind() == reflect.Pointer || sv.Kind() == reflect.Interface {
		if sv.IsNil() {
			return "", Timestamp{}, domain.Errorf(domain.CodeInvalidArgument, op, "cannot store a nil %s", rv.Type())
		}
		sv = sv.Elem()
	}
	if sv.Kind() != reflect.Struct {
		return "", Timestamp{}, domain.Errorf(domain.CodeInvalidArgument, op, "%s is not a struct", rv.Type())
	}
	idx, err := keyField(sv.Type())
	if err != nil {
		return "", Timestamp{}, domain.Wrap(domain.CodeInvalidArgument, op, err)
	}
	kf := sv.FieldByIndex(idx)
	key = kf.String()
	if key == "" {
		key = uuid.NewString()
		if !kf.CanSet() {
			return "", Timestamp{}, domain.Errorf(domain.CodeInvalidArgument, op, "key field of %s cannot be set", sv.Type())
		}
		kf.SetString(key)
	}
	body, err := json.Marshal(sv.Interface())
	if err != nil {
		return "", Timestamp{}, domain.Errorf(domain.CodeInvalidArgument, op, "encode %s: %w", sv.Type(), err)
	}
	version, err = c.PutWith(ctx, key, body, opts)
	if err != nil {
		return "", Timestamp{}, err
	}
	return key, version, nil
}

// Get loads the document key into a T.
func Get[T any](ctx context.Context, c *Collection, key string) (T, Timestamp, error) {
	var v T
	d, err := c.Get(ctx, key)
	if err != nil {
		return v, Timestamp{}, err
	}
	if err := json.Unmarshal(d.Data, &v); err != nil {
		return v, Timestamp{}, domain.Errorf(domain.CodeInvalidArgument, "entgldb.Get", "decode %s/%s into %T: %w", c.Name(), key, v, err)
	}
	return v, d.Stamp, nil
}

// Find loads the documents matching q into Ts, in the query's order.
func Find[T any](ctx context.Context, c *Collection, q Query) ([]T, error) {
	docs, err := c.Find(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(docs))
	for i := range docs {
		if err := json.Unmarshal(docs[i].Data, &out[i]); err != nil {
			return nil, domain.Errorf(domain.CodeInvalidArgument, "entgldb.Find", "decode %s/%s into %T: %w", c.Name(), docs[i].Key, out[i], err)
		}
	}
	return out, nil
}

var keyFields sync.Map // reflect.Type → []int (or error)

// keyField finds the key field of struct type t: tagged `entgldb:"key"`,
// else named ID; it must be a string.
func keyField(t reflect.Type) ([]int, error) {
	if v, ok := keyFields.Load(t); ok {
		if err, isErr := v.(error); isErr {
			return nil, err
		}
		return v.([]int), nil
	}
	idx, err := findKeyField(t)
	if err != nil {
		keyFields.Store(t, err)
		return nil, err
	}
	keyFields.Store(t, idx)
	return idx, nil
}

func findKeyField(t reflect.Type) ([]int, error) {
	var byName []int
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() {
			continue
		}
		if f.Tag.Get("entgldb") == "key" {
			if f.Type.Kind() != reflect.String {
				return nil, domain.Errorf(domain.CodeInvalidArgument, "entgldb.keyField", "key field %s.%s must be a string", t, f.Name)
			}
			return f.Index, nil
		}
		if f.Name == "ID" && f.Type.Kind() == reflect.String && byName == nil {
			byName = f.Index
		}
	}
	if byName == nil {
		return nil, domain.Errorf(domain.CodeInvalidArgument, "entgldb.keyField", "%s has no key: tag a string field `entgldb:\"key\"` or name it ID", t)
	}
	return byName, nil
}
