package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// Capabilities are optional features Go nodes offer each other in the
// handshake (HandshakeRequest/Response field 102). The C#/TypeScript family
// never sends the field and skips it, so with them nothing changes.
const (
	// CapSnapshotFile: the node serves its snapshot as a database file
	// (GetSnapshotRequest.format = SnapshotFormatFile).
	CapSnapshotFile = "snapshot-file/v1"
	// SnapshotFormatFile names the file snapshot in GetSnapshotRequest.
	SnapshotFormatFile = "sqlite-file/v1"
)

// HasCapability reports whether caps offers c.
func HasCapability(caps []string, c string) bool { return slices.Contains(caps, c) }

var snapshotClusterTag = []byte("entgldb/snapshot-cluster/v1\x00")

// SnapshotClusterTag names the cluster of a Noise PSK in a file snapshot:
// the serving node stamps it into the copy and the receiver requires its
// own. It is one-way (the PSK cannot be had from it), so a file that
// leaves the cluster reveals nothing, and a file made by another cluster's
// node is refused even if it was carried over by other means.
func SnapshotClusterTag(psk [32]byte) string {
	h := sha256.New()
	h.Write(snapshotClusterTag)
	h.Write(psk[:])
	return hex.EncodeToString(h.Sum(nil))
}
