package main

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// latencies collects per-operation durations for percentile rows.
type latencies []time.Duration

// pct returns the p-th percentile (0 < p <= 100) by nearest rank.
func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := int(float64(len(s))*p/100+0.5) - 1
	if idx < 0 {
		idx = 0
	}
	if idx >= len(s) {
		idx = len(s) - 1
	}
	return s[idx]
}

// fmtDur prints a latency in the unit that keeps three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f µs", float64(d.Nanoseconds())/1e3)
	default:
		return fmt.Sprintf("%.2f ms", float64(d.Nanoseconds())/1e6)
	}
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// rate is operations per second, rounded.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// docBody returns a ~500-byte JSON object; cat spreads documents over
// 1,000 categories so an indexed equality query matches ~0.1% of them;
// items is an array of two objects for the $elemMatch row.
func docBody(i int, rnd *rand.Rand) []byte {
	const filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua "
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":%d,"cat":"c%03d","n":%d,"score":%.3f,"name":"user-%08d","active":%t,"tags":["a%d","b%d","c%d"],"address":{"city":"city-%d","zip":"%05d"},"items":[{"k":%d,"q":%d},{"k":%d,"q":%d}],"text":"`,
		i, i%1000, i, rnd.Float64()*1000, i, i%2 == 0, i%7, i%11, i%13, i%50, i%100000, i%1000, i%10, (i+500)%1000, (i+5)%10)
	for b.Len() < 480 {
		b.WriteString(filler[:min(len(filler), 480-b.Len())])
	}
	b.WriteString(`"}`)
	return []byte(b.String())
}

// result is one table row.
type result struct {
	row, what, value, beside string
}

func (r result) String() string {
	return fmt.Sprintf("| %s | %s | %s | %s |", r.row, r.what, r.value, r.beside)
}

func na(reason string) string { return "n/a (" + reason + ")" }
