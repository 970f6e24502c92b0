package main

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// labelledSamples returns the samples of one metric family from the
// Prometheus text format, keyed by the value of label (client.ParseMetrics
// keeps only unlabelled samples). A sample without that label is keyed "".
func labelledSamples(body []byte, metric, label string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) || len(line) == len(metric) {
			continue
		}
		rest := line[len(metric):]
		key := ""
		switch rest[0] {
		case ' ':
		case '{':
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				continue
			}
			key = labelValue(rest[1:end], label)
			rest = rest[end+1:]
		default:
			continue // another metric sharing the prefix
		}
		f := strings.Fields(rest)
		if len(f) < 1 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			out[key] += v
		}
	}
	return out
}

// labelValue finds label="value" in a sample's label list (values written
// by client_golang carry no commas or quotes for the labels read here).
func labelValue(labels, label string) string {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.TrimSpace(k) == label {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

func sumValues(m map[string]float64) float64 {
	s := 0.0
	for _, v := range m {
		s += v
	}
	return s
}
