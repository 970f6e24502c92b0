package protocol

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// provenEntry is a sealed first entry of node-a carrying the proof its
// author would send with it.
func provenEntry(t testing.TB) domain.Entry {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	e := domain.Entry{Collection: "users", Key: "alice", Op: domain.OpPut, Data: []byte(`{"name":"Alice"}`),
		Stamp: domain.Timestamp{Wall: 1795594600000, Logical: 1, Node: "node-a"}}
	e.Seal("")
	link := domain.NextLink(domain.GenesisLink, domain.EntryDigest(&e))
	tail := sha256.Sum256([]byte("a later entry"))
	head := domain.NextLink(link, tail[:])
	e.Proof = &domain.AuthorProof{PublicKey: key.Public().(ed25519.PublicKey), LinkBefore: domain.GenesisLink,
		Tail: [][]byte{tail[:]}, Signature: domain.SignHead(key, "node-a", head)}
	return e
}

func TestEntryProofRoundTrip(t *testing.T) {
	e := provenEntry(t)
	b, err := proto.Marshal(&pb.PushChangesRequest{Entries: []*pb.ProtoOplogEntry{EntryToProto(&e)}})
	require.NoError(t, err)
	var req pb.PushChangesRequest
	require.NoError(t, proto.Unmarshal(b, &req))
	got, err := EntryFromProto(req.Entries[0])
	require.NoError(t, err)
	assert.Equal(t, e, got)
	links, err := domain.VerifyRun("node-a", []domain.Entry{got}, got.Proof)
	require.NoError(t, err, "the proof survives the wire")
	assert.Len(t, links, 1)

	legacy := domain.Entry{Collection: "c", Key: "k", Op: domain.OpDelete, Stamp: e.Stamp, Legacy: true}
	got, err = EntryFromProto(EntryToProto(&legacy))
	require.NoError(t, err)
	assert.True(t, got.Legacy)
	assert.Nil(t, got.Proof)
}

// An entry without proof or legacy mark encodes exactly as before the
// fields existed, so foreign nodes and the known-answer vectors see no
// change.
func TestEntryWithoutProofEncodesAsBefore(t *testing.T) {
	e := provenEntry(t)
	e.Proof = nil
	b, err := proto.Marshal(EntryToProto(&e))
	require.NoError(t, err)
	old, err := proto.Marshal(&pb.ProtoOplogEntry{Collection: e.Collection, Key: e.Key, Operation: "Put",
		JsonData: string(e.Data), HlcWall: e.Stamp.Wall, HlcLogic: e.Stamp.Logical, HlcNode: e.Stamp.Node,
		Hash: e.Hash, PreviousHash: e.PrevHash})
	require.NoError(t, err)
	assert.Equal(t, old, b)
}

// A malformed proof converts as it is: VerifyRun refuses it with the
// entries it claims to prove, and the rest of the page still converts.
func TestEntryFromProtoKeepsMalformedProof(t *testing.T) {
	p := &pb.ProtoOplogEntry{Collection: "c", Key: "k", Operation: "Put", JsonData: `{}`, HlcWall: 1, HlcNode: "n",
		Proof: &pb.ProtoAuthorProof{PublicKey: []byte{1}}}
	e, err := EntryFromProto(p)
	require.NoError(t, err)
	require.NotNil(t, e.Proof)
	_, err = domain.VerifyRun("n", []domain.Entry{e}, e.Proof)
	assert.Equal(t, domain.CodeInvalidArgument, domain.CodeOf(err))
}
