package main

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPercentileNearestRank(t *testing.T) {
	var l latencies
	for i := 100; i >= 1; i-- {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, l.pct(50))
	assert.Equal(t, 99*time.Millisecond, l.pct(99))
	assert.Equal(t, 100*time.Millisecond, l.pct(100))
	assert.Equal(t, time.Duration(0), latencies(nil).pct(50))
	assert.Equal(t, 100*time.Millisecond, l[0], "pct must not reorder its receiver")
}

func TestDocBodyIsAbout500BytesOfJSON(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 1))
	for _, i := range []int{0, 7, 99_999} {
		b := docBody(i, rnd)
		assert.InDelta(t, 500, len(b), 40, "document %d is %d bytes", i, len(b))
		var v map[string]any
		require.NoError(t, json.Unmarshal(b, &v))
		assert.Equal(t, float64(i), v["id"])
	}
}

func TestMedianAndRatio(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 0.0, median(nil))
	assert.Equal(t, "0.50", ratio(1, 2))
	assert.Equal(t, "n/a", ratio(1, 0))
}
