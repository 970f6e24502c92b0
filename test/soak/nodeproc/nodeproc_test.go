package nodeproc

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseMetricsKeepsUnlabelledSamples(t *testing.T) {
	body := []byte(`# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
process_open_fds 17
process_resident_memory_bytes 3.2768e+07
entgldb_sync_rounds_total{peer="a"} 5
entgldb_peers_connected 4
garbage
`)
	m := ParseMetrics(body)
	assert.Equal(t, 42.0, m["go_goroutines"])
	assert.Equal(t, 17.0, m["process_open_fds"])
	assert.Equal(t, 32768000.0, m["process_resident_memory_bytes"])
	assert.Equal(t, 4.0, m["entgldb_peers_connected"])
	_, labelled := m["entgldb_sync_rounds_total"]
	assert.False(t, labelled)
	assert.Len(t, m, 4)
}
