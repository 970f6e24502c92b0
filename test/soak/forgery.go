package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/entgldb/entgldb-go/adapters/protocol"
)

// beaconKind is one way the LAN attacker forges a discovery beacon.
type beaconKind int

const (
	beaconWrongKey beaconKind = iota // well-formed, tagged under another secret
	beaconUntagged                   // well-formed, no tag (an open cluster's beacon)
	beaconJSON                       // the family's old JSON beacon
	beaconTampered                   // a captured real beacon with its TCP port rewritten
	beaconReplay                     // a captured real beacon, byte for byte, from another address
	beaconKinds
)

func (k beaconKind) String() string {
	return [...]string{"wrong_key", "untagged", "json", "tampered", "replay"}[k]
}

// forgedNodePrefix starts every node id the attacker invents, so a node's
// log shows at once whether one was ever taken as a peer.
const forgedNodePrefix = "lan-forged-"

// forgeBeacon builds a beacon of kind k announcing tcpPort (the attacker's
// own sync port, where a lured node would dial). captured is a real
// beacon of the cluster (for beaconTampered); i numbers the forgery.
func forgeBeacon(k beaconKind, wrongKey protocol.BeaconKey, captured []byte, tcpPort, i int, now time.Time) ([]byte, error) {
	b := protocol.Beacon{NodeID: fmt.Sprintf("%s%d", forgedNodePrefix, i), TCPPort: tcpPort, SentAt: now.UnixMilli()}
	switch k {
	case beaconWrongKey:
		return b.Marshal(wrongKey)
	case beaconUntagged:
		return b.Marshal(nil)
	case beaconJSON:
		// The family's beacon (PROTOCOL.md §6): a 32-bit hash of the key.
		return json.Marshal(map[string]any{"node_id": b.NodeID, "tcp_port": tcpPort,
			"cluster_hash": "a1b2c3d4", "interests": []string{}})
	case beaconTampered:
		const portOffset = 14 // magic 4, version 1, flags 1, sent_at 8
		if len(captured) < portOffset+2 {
			return nil, fmt.Errorf("captured beacon of %d bytes is too short to tamper with", len(captured))
		}
		out := append([]byte(nil), captured...)
		binary.BigEndian.PutUint16(out[portOffset:], uint16(tcpPort))
		return out, nil
	}
	return nil, fmt.Errorf("beacon kind %d is built from a capture", k)
}

// replayAllowed says whether replaying a beacon that was delivered to a
// node at deliveredAt makes a fair test of its replay protection now: the
// node must have been up and settled (no kill, start or isolation since
// settle before the delivery) so it surely holds the original's stamp. A
// node that started after the original has no memory of it and takes the
// replay (the window DISCOVERY.md documents), which is no finding.
func replayAllowed(changedAt, deliveredAt, now time.Time, isolated bool, settle, minAge time.Duration) bool {
	return !isolated && changedAt.Before(deliveredAt.Add(-settle)) && now.Sub(deliveredAt) >= minAge
}
