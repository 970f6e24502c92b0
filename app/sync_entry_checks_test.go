package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// A rejected entry in the middle of a page leaves the others, in order.
func TestValidateEntriesKeepsOrder(t *testing.T) {
	clock := domain.NewClock("me", func() int64 { return time.Now().UnixMilli() }, testMaxDrift)
	page := chainOf("a", time.Now().UnixMilli(), 6, "")
	page[2].Hash = page[3].Hash // tampered
	page[4].Stamp.Node = ""     // no author
	valid, rejected := validateEntries(clock, page)
	require.Len(t, rejected, 2)
	require.Equal(t, []domain.Entry{page[0], page[1], page[3], page[5]}, valid)

	valid, rejected = validateEntries(clock, page[:2])
	require.Empty(t, rejected)
	require.Equal(t, page[:2], valid)
}
