package protocol

import (
	"encoding/json"

	"github.com/entgldb/entgldb-go/domain"
)

// Beacon is the UDP discovery datagram (PROTOCOL.md §6).
type Beacon struct {
	NodeID      string   `json:"node_id"`
	TCPPort     int      `json:"tcp_port"`
	ClusterHash string   `json:"cluster_hash"`
	Interests   []string `json:"interests"`
}

// Marshal returns the beacon's datagram.
func (b Beacon) Marshal() []byte {
	if b.Interests == nil {
		b.Interests = []string{}
	}
	// A struct of strings and ints always marshals.
	out, _ := json.Marshal(b)
	return out
}

// ParseBeacon decodes a datagram and keeps it only if it is a well-formed
// beacon of our cluster: invalid JSON, a missing node_id and a missing or
// out-of-range tcp_port are NETWORK_ERRORs, another cluster's hash is
// UNAUTHORIZED (the caller drops and counts them by code). Ignoring our own node id is the
// caller's job: it knows its id.
func ParseBeacon(datagram []byte, ownClusterHash string) (Beacon, error) {
	const op = "protocol.ParseBeacon"
	var raw struct {
		NodeID      *string  `json:"node_id"`
		TCPPort     *int     `json:"tcp_port"`
		ClusterHash string   `json:"cluster_hash"`
		Interests   []string `json:"interests"`
	}
	if err := json.Unmarshal(datagram, &raw); err != nil {
		return Beacon{}, domain.Errorf(domain.CodeNetwork, op, "beacon is not valid JSON: %w", err)
	}
	switch {
	case raw.NodeID == nil || *raw.NodeID == "":
		return Beacon{}, domain.Errorf(domain.CodeNetwork, op, "beacon without node_id")
	case raw.TCPPort == nil:
		return Beacon{}, domain.Errorf(domain.CodeNetwork, op, "beacon from %q without tcp_port", *raw.NodeID)
	case *raw.TCPPort < 1 || *raw.TCPPort > 65535:
		return Beacon{}, domain.Errorf(domain.CodeNetwork, op, "beacon from %q with tcp_port %d out of range", *raw.NodeID, *raw.TCPPort)
	case raw.ClusterHash != ownClusterHash:
		return Beacon{}, domain.Errorf(domain.CodeUnauthorized, op, "beacon from %q of another cluster (%q)", *raw.NodeID, raw.ClusterHash)
	}
	return Beacon{NodeID: *raw.NodeID, TCPPort: *raw.TCPPort, ClusterHash: raw.ClusterHash, Interests: raw.Interests}, nil
}
