package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A peer whose file was refused is not asked for one again until the
// retry time has passed, then it is; other peers are not affected.
func TestFileRefusalsExpire(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	f := fileRefusals{now: func() time.Time { return now }}
	require.False(t, f.refused("a"))
	f.add("a")
	require.True(t, f.refused("a"))
	require.False(t, f.refused("b"))
	now = now.Add(fileRefusalRetry - time.Second)
	require.True(t, f.refused("a"), "still within the retry time")
	now = now.Add(time.Second)
	require.False(t, f.refused("a"), "asked again once the retry time has passed")
	f.add("a")
	require.True(t, f.refused("a"), "a new refusal starts a new wait")
}
