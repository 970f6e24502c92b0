package protocol

import (
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// MsgType is the one-byte message type of a frame (PROTOCOL.md §1).
type MsgType uint8

// Message types 1–9 are protocol v4, 10–15 were added by v5, 16–17 carry
// the Noise channel between Go nodes (noise.go) and never reach a node of
// the C#/TypeScript family.
const (
	HandshakeReq      MsgType = 1
	HandshakeRes      MsgType = 2
	GetClockReq       MsgType = 3
	ClockRes          MsgType = 4
	PullChangesReq    MsgType = 5
	ChangeSetRes      MsgType = 6
	PushChangesReq    MsgType = 7
	AckRes            MsgType = 8
	SecureEnv         MsgType = 9
	GetChainRangeReq  MsgType = 10
	ChainRangeRes     MsgType = 11
	GetVectorClockReq MsgType = 12
	VectorClockRes    MsgType = 13
	GetSnapshotReq    MsgType = 14
	SnapshotChunkMsg  MsgType = 15
	NoiseHandshake    MsgType = 16
	NoiseEnv          MsgType = 17
)

var msgTypeNames = [...]string{
	HandshakeReq:      "HandshakeReq",
	HandshakeRes:      "HandshakeRes",
	GetClockReq:       "GetClockReq",
	ClockRes:          "ClockRes",
	PullChangesReq:    "PullChangesReq",
	ChangeSetRes:      "ChangeSetRes",
	PushChangesReq:    "PushChangesReq",
	AckRes:            "AckRes",
	SecureEnv:         "SecureEnv",
	GetChainRangeReq:  "GetChainRangeReq",
	ChainRangeRes:     "ChainRangeRes",
	GetVectorClockReq: "GetVectorClockReq",
	VectorClockRes:    "VectorClockRes",
	GetSnapshotReq:    "GetSnapshotReq",
	SnapshotChunkMsg:  "SnapshotChunkMsg",
	NoiseHandshake:    "NoiseHandshake",
	NoiseEnv:          "NoiseEnv",
}

// Valid reports whether t is one of the 17 message types.
func (t MsgType) Valid() bool { return t >= HandshakeReq && t <= NoiseEnv }

// transport reports whether t belongs to the channel itself (key exchange
// and envelopes) rather than to the conversation: such frames are never
// sent through Send, never sealed inside an envelope and never decoded.
func (t MsgType) transport() bool { return t == SecureEnv || t == NoiseHandshake || t == NoiseEnv }

func (t MsgType) String() string {
	if t.Valid() {
		return msgTypeNames[t]
	}
	return "MsgType(" + strconv.Itoa(int(t)) + ")"
}

// NewMessage returns an empty message of the payload type that t carries,
// or nil for an unknown type.
func NewMessage(t MsgType) proto.Message {
	switch t {
	case HandshakeReq:
		return &pb.HandshakeRequest{}
	case HandshakeRes:
		return &pb.HandshakeResponse{}
	case GetClockReq:
		return &pb.GetClockRequest{}
	case ClockRes:
		return &pb.ClockResponse{}
	case PullChangesReq:
		return &pb.PullChangesRequest{}
	case ChangeSetRes:
		return &pb.ChangeSetResponse{}
	case PushChangesReq:
		return &pb.PushChangesRequest{}
	case AckRes:
		return &pb.AckResponse{}
	case SecureEnv:
		return &pb.SecureEnvelope{}
	case GetChainRangeReq:
		return &pb.GetChainRangeRequest{}
	case ChainRangeRes:
		return &pb.ChainRangeResponse{}
	case GetVectorClockReq:
		return &pb.GetVectorClockRequest{}
	case VectorClockRes:
		return &pb.VectorClockResponse{}
	case GetSnapshotReq:
		return &pb.GetSnapshotRequest{}
	case SnapshotChunkMsg:
		return &pb.SnapshotChunk{}
	}
	return nil
}

// Decode unmarshals payload as the message type t carries. A payload that
// is not valid protobuf for t is a NETWORK_ERROR.
func Decode(t MsgType, payload []byte) (proto.Message, error) {
	m := NewMessage(t)
	if m == nil {
		return nil, domain.Errorf(domain.CodeNetwork, "protocol.Decode", "unknown message type %d", uint8(t))
	}
	if err := proto.Unmarshal(payload, m); err != nil {
		return nil, domain.Errorf(domain.CodeNetwork, "protocol.Decode", "malformed %s payload: %w", t, err)
	}
	return m, nil
}

// DecodeInto unmarshals payload into m after checking that the frame type
// is the one the caller expected.
func DecodeInto(got, want MsgType, payload []byte, m proto.Message) error {
	if got != want {
		return domain.Errorf(domain.CodeNetwork, "protocol.Decode", "expected %s, got %s", want, got)
	}
	if err := proto.Unmarshal(payload, m); err != nil {
		return domain.Errorf(domain.CodeNetwork, "protocol.Decode", "malformed %s payload: %w", got, err)
	}
	return nil
}
