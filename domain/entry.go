package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Op is the operation an oplog entry records. The numeric values are the
// ones hashed by the v5 chain (PROTOCOL.md §2).
type Op uint8

const (
	OpPut    Op = 0
	OpDelete Op = 1
)

// String returns the wire spelling: "Put" or "Delete".
func (o Op) String() string {
	if o == OpDelete {
		return "Delete"
	}
	return "Put"
}

// ParseOp accepts "Put"/"Delete" in any letter case (the TypeScript node
// sends lower case). Anything else is a SYNC_ERROR for that entry.
func ParseOp(s string) (Op, error) {
	switch {
	case strings.EqualFold(s, "put"):
		return OpPut, nil
	case strings.EqualFold(s, "delete"):
		return OpDelete, nil
	}
	return 0, Errorf(CodeSync, "domain.ParseOp", "unknown operation %q", s)
}

// Entry is one change in the oplog: what was written, when and by whom, and
// its place in its author's hash chain.
type Entry struct {
	Collection string
	Key        string
	Op         Op
	// Data is the document's JSON text exactly as its author wrote it; empty
	// for a delete. Foreign nodes may send any JSON value, not only objects.
	Data []byte
	// ExpiresAt is when the document written expires, in Unix
	// milliseconds (0: never). It travels with the entry; an expired
	// document reads as absent everywhere and is collected like a delete.
	ExpiresAt int64
	Stamp     Timestamp
	Hash      string
	PrevHash  string
	// Seq is this node's local commit sequence (the change feed position).
	// It is assigned by the store, never sent on the wire.
	Seq int64
	// Link is the entry's content link (authorproof.go), computed and kept
	// by the store, never sent; nil when unknown: an entry accepted
	// without proof (Legacy) or held from before links existed.
	Link []byte
	// Proof proves this entry and its author's entries before it in a
	// page (authorproof.go); on the wire only on the last entry of each
	// author's run, in a store on the entries whose proof arrived.
	Proof *AuthorProof
	// PrevLink is the link before this entry as a verified proof gave it
	// (set on the first entry of each proven run; never sent). A store
	// that does not hold the predecessor — its history starts at a
	// snapshot or was compacted — keeps it, so it can prove the run to the
	// next peer.
	PrevLink []byte
	// Legacy marks an entry accepted without proof of its author, from the
	// C#/TypeScript family (Security.LegacyPeers). It never extends the
	// chain of an author whose identity key is known.
	Legacy bool
}

// Author is the node that made the entry.
func (e *Entry) Author() string { return e.Stamp.Node }

// HashInput returns the exact bytes the v5 chain hashes:
// collection|key|op||wall:logic:node|previous_hash (the payload is not hashed).
func HashInput(collection, key string, op Op, stamp Timestamp, prevHash string) []byte {
	b := make([]byte, 0, len(collection)+len(key)+len(stamp.Node)+len(prevHash)+40)
	b = append(b, collection...)
	b = append(b, '|')
	b = append(b, key...)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(op), 10)
	b = append(b, '|', '|')
	b = strconv.AppendInt(b, stamp.Wall, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(stamp.Logical), 10)
	b = append(b, ':')
	b = append(b, stamp.Node...)
	b = append(b, '|')
	b = append(b, prevHash...)
	return b
}

// ComputeHash returns the lowercase hex SHA-256 of HashInput.
func ComputeHash(collection, key string, op Op, stamp Timestamp, prevHash string) string {
	sum := sha256.Sum256(HashInput(collection, key, op, stamp, prevHash))
	return hex.EncodeToString(sum[:])
}

// Seal links e after prevHash in its author's chain and sets its hash.
func (e *Entry) Seal(prevHash string) {
	e.PrevHash = prevHash
	e.Hash = ComputeHash(e.Collection, e.Key, e.Op, e.Stamp, prevHash)
}

// VerifyHash reports whether e's hash matches its contents and PrevHash.
func (e *Entry) VerifyHash() bool {
	return e.Hash == ComputeHash(e.Collection, e.Key, e.Op, e.Stamp, e.PrevHash)
}

// Size is the approximate number of bytes the entry costs on the wire; used
// to cap pages by bytes.
func (e *Entry) Size() int {
	n := len(e.Collection) + len(e.Key) + len(e.Data) + len(e.Stamp.Node) + len(e.Hash) + len(e.PrevHash) + 32
	if p := e.Proof; p != nil {
		n += len(p.PublicKey) + len(p.LinkBefore) + len(p.Signature) + LinkSize*len(p.Tail)
	}
	return n
}

// VerifyChain checks that entries (one author's, in stamp order) link up:
// each hash is right and each PrevHash is the hash before it, starting from
// prevHash. It returns the index of the first broken link, or -1.
func VerifyChain(prevHash string, entries []Entry) int {
	for i := range entries {
		if entries[i].PrevHash != prevHash || !entries[i].VerifyHash() {
			return i
		}
		prevHash = entries[i].Hash
	}
	return -1
}

// ChunkBySize splits entries into runs of at most maxBytes by Size (each run
// holds at least one entry, so an entry over the cap goes alone).
func ChunkBySize(entries []Entry, maxBytes int) [][]Entry {
	var out [][]Entry
	start, size := 0, 0
	for i := range entries {
		sz := entries[i].Size()
		if i > start && size+sz > maxBytes {
			out = append(out, entries[start:i])
			start, size = i, 0
		}
		size += sz
	}
	if start < len(entries) {
		out = append(out, entries[start:])
	}
	return out
}

// EntriesSize is the sum of the entries' Size.
func EntriesSize(entries []Entry) int64 {
	var n int64
	for i := range entries {
		n += int64(entries[i].Size())
	}
	return n
}
