package domain

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDocumentVersion(t *testing.T) {
	d := Document{Stamp: Timestamp{Wall: 12, Logical: 3, Node: "n:1"}}
	require.Equal(t, "12:3:n:1", d.Version())
}
