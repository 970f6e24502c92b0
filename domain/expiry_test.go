package domain

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpired(t *testing.T) {
	require.False(t, Expired(0, 1_000), "0 never expires")
	require.False(t, Expired(1_001, 1_000))
	require.True(t, Expired(1_000, 1_000), "the instant of expiry is expired")
	require.True(t, Expired(999, 1_000))
}

func TestValidateExpiry(t *testing.T) {
	require.NoError(t, ValidateExpiry(0))
	require.NoError(t, ValidateExpiry(1), "a past expiry from a peer is accepted")
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateExpiry(-1)))

	require.NoError(t, ValidateLocalExpiry(0, 1_000))
	require.NoError(t, ValidateLocalExpiry(1_001, 1_000))
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateLocalExpiry(1_000, 1_000)))
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateLocalExpiry(-5, 1_000)))
}

func TestValidateEntryAndDocumentExpiry(t *testing.T) {
	e := Entry{Collection: "c", Key: "k", Op: OpPut, Data: []byte(`{}`), Stamp: Timestamp{Wall: 1, Node: "n1"}, ExpiresAt: -1}
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateEntry(&e, EntryLimits{})))
	e.ExpiresAt = 5
	require.NoError(t, ValidateEntry(&e, EntryLimits{}))

	d := Document{Collection: "c", Key: "k", Data: []byte(`{}`), Stamp: Timestamp{Wall: 1, Node: "n1"}, ExpiresAt: -1}
	require.Equal(t, CodeInvalidArgument, CodeOf(ValidateDocument(&d, EntryLimits{})))
}
