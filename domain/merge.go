package domain

import (
	"bytes"
	"encoding/json"
)

// RecursiveMerge merges JSON documents field by field instead of letting the
// newer write replace the older one whole. The rules, for an incoming entry
// applied to the current state of its key:
//
//   - No current state: the entry's own state (its body as written, or a
//     tombstone for a delete).
//   - Incoming stamp equal to the current stamp: the same write again,
//     Unchanged.
//   - Incoming stamp older than the current stamp: NeedsReplay. The caller
//     replays every entry it holds for the key in stamp order (Replay), so
//     the result is the fold of the rules below in stamp order and depends
//     only on the set of entries, never on arrival order.
//   - A newer delete: a tombstone (the body is dropped).
//   - A newer put on a tombstone: resurrection with that put's body alone.
//   - A newer put on a live document: the put's body merged into the current
//     body (when either body is not a JSON object, as foreign nodes may send
//     any JSON value, or is not valid JSON, the put's body is taken whole).
//
// Merging a newer value into an older one (mergeValue):
//
//   - Both objects: field by field, recursively; fields absent from the
//     newer value are kept, fields present in both are merged.
//   - Both arrays, neither empty, whose elements are all objects carrying
//     "id" (or, when "id" is absent, "_id"): merged element-wise by that id
//     (ids compare by their JSON text, so 1 and "1" differ). The result holds
//     the newer array's elements first, in its order, each merged with the
//     older element of the same id if any, then the older-only elements in
//     their order.
//   - Anything else (primitives, mixed or empty arrays, a change of type):
//     the newer value.
//
// A merged body is re-encoded deterministically: object keys in byte order,
// numbers exactly as written, no HTML escaping. A body that needed no merge
// is kept byte for byte as its author wrote it.
type RecursiveMerge struct{}

// Name implements Resolver.
func (RecursiveMerge) Name() string { return "merge" }

// Resolve implements Resolver.
func (RecursiveMerge) Resolve(current *Document, incoming *Entry) (Document, Outcome) {
	if current == nil {
		return DocumentFromEntry(incoming), Changed
	}
	switch incoming.Stamp.Compare(current.Stamp) {
	case 0:
		return *current, Unchanged
	case -1:
		return *current, NeedsReplay
	}
	if incoming.Op == OpDelete || current.Deleted {
		return DocumentFromEntry(incoming), Changed
	}
	doc := DocumentFromEntry(incoming)
	if merged, ok := MergeJSON(current.Data, incoming.Data); ok {
		doc.Data = merged
	}
	return doc, Changed
}

// MergeJSON merges newer into older by the rules of RecursiveMerge. ok is
// false when either is not a JSON object; the caller then takes newer whole.
func MergeJSON(older, newer []byte) (merged []byte, ok bool) {
	oldObj, ok := decodeObject(older)
	if !ok {
		return nil, false
	}
	newObj, ok := decodeObject(newer)
	if !ok {
		return nil, false
	}
	out, err := encodeCanonical(mergeObjects(oldObj, newObj))
	if err != nil {
		return nil, false // unreachable: values came from the decoder
	}
	return out, true
}

// decodeObject decodes a JSON object keeping numbers as written.
func decodeObject(data []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return nil, false
	}
	return obj, true
}

// encodeCanonical writes v with sorted object keys (encoding/json sorts map
// keys) and without HTML escaping.
func encodeCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// mergeValue merges newer into older (see RecursiveMerge).
func mergeValue(older, newer any) any {
	switch n := newer.(type) {
	case map[string]any:
		if o, ok := older.(map[string]any); ok {
			return mergeObjects(o, n)
		}
	case []any:
		if o, ok := older.([]any); ok {
			if merged, ok := mergeIDArrays(o, n); ok {
				return merged
			}
		}
	}
	return newer
}

// mergeObjects returns a new map: older's fields, with newer's merged in.
func mergeObjects(older, newer map[string]any) map[string]any {
	out := make(map[string]any, len(older)+len(newer))
	for k, v := range older {
		out[k] = v
	}
	for k, nv := range newer {
		if ov, ok := older[k]; ok {
			out[k] = mergeValue(ov, nv)
		} else {
			out[k] = nv
		}
	}
	return out
}

// mergeIDArrays merges two arrays of objects by id; ok is false when either
// is not a non-empty array of objects that all carry an id.
func mergeIDArrays(older, newer []any) ([]any, bool) {
	oldIDs, ok := elementIDs(older)
	if !ok {
		return nil, false
	}
	newIDs, ok := elementIDs(newer)
	if !ok {
		return nil, false
	}
	// First unused older element for each id; with duplicate ids, later
	// duplicates pair up in order.
	byID := make(map[string][]int, len(older))
	for i, id := range oldIDs {
		byID[id] = append(byID[id], i)
	}
	used := make([]bool, len(older))
	out := make([]any, 0, len(older)+len(newer))
	for i, el := range newer {
		if idx := byID[newIDs[i]]; len(idx) > 0 {
			j := idx[0]
			byID[newIDs[i]] = idx[1:]
			used[j] = true
			out = append(out, mergeValue(older[j], el))
			continue
		}
		out = append(out, el)
	}
	for j, el := range older {
		if !used[j] {
			out = append(out, el)
		}
	}
	return out, true
}

// elementIDs returns the JSON text of each element's id ("id", else "_id").
func elementIDs(arr []any) ([]string, bool) {
	if len(arr) == 0 {
		return nil, false
	}
	ids := make([]string, len(arr))
	for i, el := range arr {
		obj, ok := el.(map[string]any)
		if !ok {
			return nil, false
		}
		id, ok := obj["id"]
		if !ok {
			if id, ok = obj["_id"]; !ok {
				return nil, false
			}
		}
		text, err := encodeCanonical(id)
		if err != nil {
			return nil, false
		}
		ids[i] = string(text)
	}
	return ids, true
}
