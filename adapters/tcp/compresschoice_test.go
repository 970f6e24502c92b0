package tcp

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sendsOver runs the choice over a simulated link: compressing costs
// compressPerByte and shrinks by ratio, the link carries linkPerByte.
func sendsOver(c *compressChoice, chunks int, compressPerByte, linkPerByte float64, ratio float64) (compressed int) {
	const n = 80 << 10
	for i := 0; i < chunks; i++ {
		z := c.compress()
		took := float64(n) * linkPerByte
		if z {
			took = float64(n)*compressPerByte + float64(n)/ratio*linkPerByte
			compressed++
		}
		c.record(z, n, time.Duration(took*float64(time.Second)))
	}
	return compressed
}

func TestCompressChoiceFollowsTheLink(t *testing.T) {
	const compress = 1.0 / 200e6 // 200 MB/s
	var fast compressChoice
	got := sendsOver(&fast, 320, compress, 1.0/2e9, 3) // loopback
	require.LessOrEqual(t, got, 320/probeEvery+2, "a fast link takes the plain way but for probes")

	var slow compressChoice
	got = sendsOver(&slow, 320, compress, 1.0/12.5e6, 3) // 100 Mbit/s
	require.GreaterOrEqual(t, got, 320-320/probeEvery-2, "a slow link takes the compressed way but for probes")

	// The link changes mid-stream: the probes notice.
	sendsOver(&fast, 64, compress, 1.0/12.5e6, 3)
	got = sendsOver(&fast, 64, compress, 1.0/12.5e6, 3)
	require.GreaterOrEqual(t, got, 64-64/probeEvery-1, "compressing again after the link slowed")
}
