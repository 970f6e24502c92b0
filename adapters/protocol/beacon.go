package protocol

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"unicode/utf8"

	"github.com/entgldb/entgldb-go/domain"
)

// The discovery beacon (docs/DISCOVERY.md) is a small binary datagram:
//
//	magic "EGLB" | version 1 | flags | sent_at u64 | tcp_port u16 |
//	node id (u8 length + bytes) | interest count u8 | interests (u8 length + bytes each) |
//	HMAC-SHA256 tag (32 bytes, only when flags has BeaconFlagMAC)
//
// Integers are big-endian. The tag covers every byte before it. Nothing else
// follows: trailing bytes make the datagram malformed.
const (
	beaconMagic   = "EGLB"
	beaconVersion = 1
	// BeaconFlagMAC marks a beacon of a closed cluster: a tag follows.
	BeaconFlagMAC = 1 << 0

	// MaxBeaconNodeID bounds the node id a beacon carries.
	MaxBeaconNodeID = domain.MaxNodeIDBytes
	// MaxBeaconInterests bounds how many collections a beacon announces.
	MaxBeaconInterests = 32
	// MaxBeaconInterest bounds one announced collection name.
	MaxBeaconInterest = domain.MaxCollectionName

	beaconHeader = len(beaconMagic) + 1 + 1 + 8 + 2 // magic, version, flags, sent_at, tcp_port
	beaconTagLen = sha256.Size
	// MaxBeaconSize is the longest well-formed beacon; a receive buffer one
	// byte longer tells an oversized datagram from one that fits.
	MaxBeaconSize = beaconHeader + 1 + MaxBeaconNodeID + 1 + MaxBeaconInterests*(1+MaxBeaconInterest) + beaconTagLen
)

// beaconKeyInfo labels the HKDF output so the beacon key is never the key
// of anything else derived from the same secret.
const beaconKeyInfo = "entgldb discovery beacon v1"

// BeaconKey is the HMAC-SHA256 key of a closed cluster's beacons.
type BeaconKey []byte

// DeriveBeaconKey derives the beacon key from the cluster secret with
// HKDF-SHA256 (no salt, a fixed info label). An empty secret is an open
// cluster: nil, and beacons carry no tag. The error comes only from the
// crypto module's own policy (a FIPS 140-only mode refusing a short secret).
func DeriveBeaconKey(secret []byte) (BeaconKey, error) {
	if len(secret) == 0 {
		return nil, nil
	}
	key, err := hkdf.Key(sha256.New, secret, nil, beaconKeyInfo, sha256.Size)
	if err != nil {
		return nil, domain.Errorf(domain.CodeConfig, "protocol.DeriveBeaconKey", "deriving the beacon key: %w", err)
	}
	return key, nil
}

// Beacon is what a discovery datagram announces.
type Beacon struct {
	NodeID    string
	TCPPort   int
	Interests []string
	// SentAt is the sender's wall clock in Unix milliseconds; a sender
	// makes it strictly increasing so receivers can refuse replays.
	SentAt int64
}

// Check reports the first field the wire format cannot carry, as an
// INVALID_ARGUMENT.
func (b Beacon) Check() error {
	const op = "protocol.Beacon.Check"
	switch {
	case b.NodeID == "" || len(b.NodeID) > MaxBeaconNodeID:
		return domain.Errorf(domain.CodeInvalidArgument, op, "node id must be 1 to %d bytes, got %d", MaxBeaconNodeID, len(b.NodeID))
	case !utf8.ValidString(b.NodeID):
		return domain.Errorf(domain.CodeInvalidArgument, op, "node id is not UTF-8")
	case b.TCPPort < 1 || b.TCPPort > 65535:
		return domain.Errorf(domain.CodeInvalidArgument, op, "tcp port %d out of range 1..65535", b.TCPPort)
	case b.SentAt < 0:
		return domain.Errorf(domain.CodeInvalidArgument, op, "sent_at %d is negative", b.SentAt)
	case len(b.Interests) > MaxBeaconInterests:
		return domain.Errorf(domain.CodeInvalidArgument, op, "%d interests, at most %d fit a beacon", len(b.Interests), MaxBeaconInterests)
	}
	for _, c := range b.Interests {
		if c == "" || len(c) > MaxBeaconInterest || !utf8.ValidString(c) {
			return domain.Errorf(domain.CodeInvalidArgument, op, "interest %q is not 1 to %d bytes of UTF-8", c, MaxBeaconInterest)
		}
	}
	return nil
}

// Marshal returns the beacon's datagram, tagged with key unless key is nil
// (an open cluster).
func (b Beacon) Marshal(key BeaconKey) ([]byte, error) {
	if err := b.Check(); err != nil {
		return nil, err
	}
	out := make([]byte, 0, beaconHeader+1+len(b.NodeID)+1+len(b.Interests)*(1+MaxBeaconInterest)+beaconTagLen)
	out = append(out, beaconMagic...)
	var flags byte
	if key != nil {
		flags |= BeaconFlagMAC
	}
	out = append(out, beaconVersion, flags)
	out = binary.BigEndian.AppendUint64(out, uint64(b.SentAt))
	out = binary.BigEndian.AppendUint16(out, uint16(b.TCPPort))
	out = append(out, byte(len(b.NodeID)))
	out = append(out, b.NodeID...)
	out = append(out, byte(len(b.Interests)))
	for _, c := range b.Interests {
		out = append(out, byte(len(c)))
		out = append(out, c...)
	}
	if key != nil {
		out = append(out, beaconTag(key, out)...)
	}
	return out, nil
}

// beaconTag is the HMAC-SHA256 of body under key, in a new slice (body
// may share its array with the received tag).
func beaconTag(key BeaconKey, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}

// ParseBeacon decodes a datagram and keeps it only if it is a well-formed
// beacon of our cluster. A malformed datagram (wrong magic, unknown version
// or flags, a field out of its bounds, trailing bytes) is a NETWORK_ERROR;
// a beacon that does not authenticate under key (a wrong or missing tag,
// or a tag where the open cluster, key nil, expects none) is UNAUTHORIZED.
// The caller drops and counts them by code. Freshness, replays and our own
// node id are the caller's: it has the clock and the per-node state.
func ParseBeacon(datagram []byte, key BeaconKey) (Beacon, error) {
	const op = "protocol.ParseBeacon"
	malformed := func(format string, args ...any) (Beacon, error) {
		return Beacon{}, domain.Errorf(domain.CodeNetwork, op, "malformed beacon: "+format, args...)
	}
	if len(datagram) > MaxBeaconSize {
		return malformed("%d bytes, at most %d", len(datagram), MaxBeaconSize)
	}
	if len(datagram) < beaconHeader || string(datagram[:len(beaconMagic)]) != beaconMagic {
		return malformed("no beacon magic")
	}
	if v := datagram[len(beaconMagic)]; v != beaconVersion {
		return malformed("unknown version %d", v)
	}
	flags := datagram[len(beaconMagic)+1]
	if flags&^BeaconFlagMAC != 0 {
		return malformed("unknown flags %#x", flags)
	}
	body := datagram
	if flags&BeaconFlagMAC != 0 {
		if len(datagram) < beaconHeader+beaconTagLen {
			return malformed("too short for its tag")
		}
		body = datagram[:len(datagram)-beaconTagLen]
	}
	r := beaconReader{buf: body[beaconHeader:]}
	b := Beacon{
		SentAt:  int64(binary.BigEndian.Uint64(body[len(beaconMagic)+2:])),
		TCPPort: int(binary.BigEndian.Uint16(body[len(beaconMagic)+10:])),
	}
	b.NodeID = r.str(MaxBeaconNodeID)
	n := r.byte()
	if n > MaxBeaconInterests {
		return malformed("%d interests, at most %d", n, MaxBeaconInterests)
	}
	if n > 0 {
		b.Interests = make([]string, n)
		for i := range b.Interests {
			b.Interests[i] = r.str(MaxBeaconInterest)
		}
	}
	switch {
	case r.bad:
		return malformed("a field runs past the end or out of its bounds")
	case len(r.buf) != 0:
		return malformed("%d trailing bytes", len(r.buf))
	}
	if err := b.Check(); err != nil {
		return malformed("%w", err)
	}
	// Authentication last, so the counters tell noise from another cluster.
	switch tagged := flags&BeaconFlagMAC != 0; {
	case key == nil && tagged:
		return Beacon{}, domain.Errorf(domain.CodeUnauthorized, op, "tagged beacon from %q: this cluster is open", b.NodeID)
	case key != nil && !tagged:
		return Beacon{}, domain.Errorf(domain.CodeUnauthorized, op, "untagged beacon from %q", b.NodeID)
	case key != nil && !hmac.Equal(beaconTag(key, body), datagram[len(body):]):
		return Beacon{}, domain.Errorf(domain.CodeUnauthorized, op, "beacon from %q does not authenticate", b.NodeID)
	}
	return b, nil
}

// beaconReader reads length-prefixed fields; the first overrun or empty
// field sets bad and every later read returns zero values.
type beaconReader struct {
	buf []byte
	bad bool
}

func (r *beaconReader) byte() int {
	if r.bad || len(r.buf) < 1 {
		r.bad = true
		return 0
	}
	v := r.buf[0]
	r.buf = r.buf[1:]
	return int(v)
}

func (r *beaconReader) str(limit int) string {
	n := r.byte()
	if r.bad || n == 0 || n > limit || n > len(r.buf) {
		r.bad = true
		return ""
	}
	s := string(r.buf[:n])
	r.buf = r.buf[n:]
	return s
}
