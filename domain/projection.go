package domain

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Projection picks the fields of a document a reader asked for, as
// MongoDB's find projection does: either only the listed paths (Include)
// or everything but them. A path through an array of objects applies to
// each object in it.
type Projection struct {
	Paths   []string
	Include bool
}

// ParseProjection reads a projection: an array of paths to include, or an
// object of paths to 1/true (include) or 0/false (exclude), not mixed.
// Empty input or null is no projection (nil).
func ParseProjection(raw []byte) (*Projection, error) {
	const op = "domain.ParseProjection"
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	v, err := DecodeJSON(trimmed)
	if err != nil {
		return nil, Errorf(CodeInvalidArgument, op, "fields is not valid JSON: %w", err)
	}
	p := &Projection{Include: true}
	switch x := v.(type) {
	case []any:
		for _, el := range x {
			s, ok := el.(string)
			if !ok {
				return nil, Errorf(CodeInvalidArgument, op, "fields must list paths as strings, got %s", jsonKind(el))
			}
			p.Paths = append(p.Paths, s)
		}
	case map[string]any:
		modes := map[bool]bool{}
		for _, path := range sortedKeys(x) {
			include, ok := projectionFlag(x[path])
			if !ok {
				return nil, Errorf(CodeInvalidArgument, op, "fields: %q must be 1, 0, true or false", path)
			}
			modes[include] = true
			p.Paths, p.Include = append(p.Paths, path), include
		}
		if len(modes) > 1 {
			return nil, Errorf(CodeInvalidArgument, op, "fields cannot both include and exclude paths")
		}
	default:
		return nil, Errorf(CodeInvalidArgument, op, "fields must be an array or an object, got %s", jsonKind(v))
	}
	if len(p.Paths) > MaxFilterTerms {
		return nil, Errorf(CodeInvalidArgument, op, "fields lists more than %d paths", MaxFilterTerms)
	}
	for _, path := range p.Paths {
		if err := ValidatePath(path); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func projectionFlag(v any) (include, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case json.Number:
		switch string(x) {
		case "1":
			return true, true
		case "0":
			return false, true
		}
	}
	return false, false
}

// Apply returns the projected JSON text of a document. A document that is
// not an object is returned as it is.
func (p *Projection) Apply(data []byte) ([]byte, error) {
	doc, err := DecodeJSON(data)
	if err != nil {
		return nil, Errorf(CodeCorruption, "domain.Projection", "document is not valid JSON: %w", err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return data, nil
	}
	var out any = obj
	if p.Include {
		kept := map[string]any{}
		for _, path := range p.Paths {
			include(obj, kept, strings.Split(path, "."))
		}
		out = kept
	} else {
		for _, path := range p.Paths {
			exclude(obj, strings.Split(path, "."))
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, Errorf(CodeInternal, "domain.Projection", "cannot encode a projected document: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// include copies the value at segs from src into dst, keeping the objects
// and arrays on the way.
func include(src, dst map[string]any, segs []string) {
	v, ok := src[segs[0]]
	if !ok {
		return
	}
	if len(segs) == 1 {
		dst[segs[0]] = v
		return
	}
	switch x := v.(type) {
	case map[string]any:
		sub, _ := dst[segs[0]].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			dst[segs[0]] = sub
		}
		include(x, sub, segs[1:])
	case []any:
		prev, _ := dst[segs[0]].([]any)
		arr := make([]any, 0, len(x))
		for _, el := range x {
			obj, isObj := el.(map[string]any)
			if !isObj {
				continue
			}
			var sub map[string]any
			if len(arr) < len(prev) { // an earlier path through this array
				sub, _ = prev[len(arr)].(map[string]any)
			}
			if sub == nil {
				sub = map[string]any{}
			}
			include(obj, sub, segs[1:])
			arr = append(arr, sub)
		}
		dst[segs[0]] = arr
	}
}

// exclude removes the value at segs from obj.
func exclude(obj map[string]any, segs []string) {
	if len(segs) == 1 {
		delete(obj, segs[0])
		return
	}
	switch x := obj[segs[0]].(type) {
	case map[string]any:
		exclude(x, segs[1:])
	case []any:
		for _, el := range x {
			if sub, ok := el.(map[string]any); ok {
				exclude(sub, segs[1:])
			}
		}
	}
}
