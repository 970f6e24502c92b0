package client

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
)

// Metrics reads /metrics and returns the unlabelled samples by name.
func (c *Client) Metrics(ctx context.Context) (map[string]float64, error) {
	resp, err := c.call(ctx, "client.Metrics", http.MethodGet, "/metrics", nil, nil)
	if err != nil {
		return nil, err
	}
	return ParseMetrics(resp.Body), nil
}

// ParseMetrics parses the Prometheus text format, keeping unlabelled samples.
func ParseMetrics(body []byte) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}
