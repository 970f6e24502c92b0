package tcp

import "time"

// compressChoice decides, chunk by chunk of a long stream, whether Brotli
// pays: it keeps the cost of sending one byte of the stream each way (the
// time Send took, compression and the wait for the link included, over the
// bytes before compression) and takes the cheaper way, trying the other
// every probeEvery chunks so a change of the link is noticed. On a fast
// link (loopback, a LAN) the plain way wins, as compressing costs more
// than the bytes it saves; on a slow one the compressed way does.
type compressChoice struct {
	cost  [2]float64 // seconds per byte: [0] plain, [1] compressed; 0 = not measured
	sends int
}

// probeEvery: one chunk in so many takes the way that looks dearer.
const probeEvery = 64

// compress reports whether the next chunk goes compressed.
func (c *compressChoice) compress() bool {
	c.sends++
	switch {
	case c.cost[1] == 0:
		return true // measure both, compressed first
	case c.cost[0] == 0:
		return false
	}
	cheaper := c.cost[1] < c.cost[0]
	if c.sends%probeEvery == 0 {
		return !cheaper
	}
	return cheaper
}

// record notes that sending n bytes the given way took took.
func (c *compressChoice) record(compressed bool, n int, took time.Duration) {
	if n == 0 {
		return
	}
	i := 0
	if compressed {
		i = 1
	}
	perByte := took.Seconds() / float64(n)
	if c.cost[i] == 0 {
		c.cost[i] = perByte
		return
	}
	c.cost[i] += (perByte - c.cost[i]) / 4 // smoothed over the last few chunks
}
