package nodeproc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A node's three ports come from three calls: a port handed out once must
// never come back (CI once gave a node the same HTTP and sync port).
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 300 {
		p, err := FreePort()
		require.NoError(t, err)
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
	}
}
