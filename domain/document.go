package domain

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Document is the visible state of one key in one collection.
type Document struct {
	Collection string
	Key        string
	// Data is the JSON text of the document (empty when Deleted).
	Data []byte
	// Stamp is the HLC of the write that produced this state: the version.
	Stamp   Timestamp
	Deleted bool
}

// Version is the user-facing version string of the document.
func (d *Document) Version() string { return d.Stamp.String() }

// Limits of the user-facing API (INTERFACE.md).
const (
	MaxCollectionName = 64
	MaxKeyBytes       = 256
	// DefaultMaxDocumentBytes is Persistence.MaxDocumentBytes's default.
	DefaultMaxDocumentBytes = 1 << 20
)

// ValidateCollection checks a collection name for a user write:
// [A-Za-z0-9_.-]{1,64}, and a leading '_' is reserved for the system.
func ValidateCollection(name string) error {
	const op = "domain.ValidateCollection"
	if len(name) == 0 || len(name) > MaxCollectionName {
		return Errorf(CodeInvalidArgument, op, "collection name must be 1 to %d characters, got %d", MaxCollectionName, len(name))
	}
	if name[0] == '_' {
		return Errorf(CodeInvalidArgument, op, "collection name %q: a leading '_' is reserved for the system", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return Errorf(CodeInvalidArgument, op, "collection name %q has a character outside [A-Za-z0-9_.-]", name)
		}
	}
	return nil
}

// ValidateKey checks a document key: 1 to 256 bytes of valid UTF-8.
func ValidateKey(key string) error {
	const op = "domain.ValidateKey"
	if len(key) == 0 || len(key) > MaxKeyBytes {
		return Errorf(CodeInvalidArgument, op, "key must be 1 to %d bytes, got %d", MaxKeyBytes, len(key))
	}
	if !utf8.ValidString(key) {
		return Errorf(CodeInvalidArgument, op, "key is not valid UTF-8")
	}
	return nil
}

// ValidateBody checks a document body for a user write: a JSON object of at
// most maxBytes bytes (maxBytes <= 0 means DefaultMaxDocumentBytes).
func ValidateBody(body []byte, maxBytes int) error {
	const op = "domain.ValidateBody"
	if maxBytes <= 0 {
		maxBytes = DefaultMaxDocumentBytes
	}
	if len(body) > maxBytes {
		return Errorf(CodeTooLarge, op, "document is %d bytes, the limit is %d", len(body), maxBytes)
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Errorf(CodeInvalidArgument, op, "document must be a JSON object")
	}
	if !json.Valid(body) {
		return Errorf(CodeInvalidArgument, op, "document is not valid JSON")
	}
	return nil
}

// ValidateWrite checks collection, key and (for puts) body together.
func ValidateWrite(collection, key string, op Op, body []byte, maxBytes int) error {
	if err := ValidateCollection(collection); err != nil {
		return err
	}
	if err := ValidateKey(key); err != nil {
		return err
	}
	if op == OpPut {
		return ValidateBody(body, maxBytes)
	}
	return nil
}
