package tcp

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// BenchmarkPullPage is the transport's share of a bootstrap page: 1,000
// entries of ~500-byte JSON documents (make bench's shape) served by a
// handler that costs nothing, over a Noise, Brotli-compressed loopback
// session (as between Go nodes), converted and checked on arrival. The client asks from the last
// stamp it got, as a bootstrapping peer does.
func BenchmarkPullPage(b *testing.B) {
	entries := benchDocs(1000)
	h := &pageHandler{entries: entries}
	srv := startServer(b, h, nil)
	d := newDialer(b, dialerOpts(false), nil)
	ctx := context.Background()
	s, err := d.Dial(ctx, srv.Addr().String())
	require.NoError(b, err)
	defer s.Close()
	size := 0
	for i := range entries {
		size += entries[i].Size()
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var since domain.Timestamp
	for b.Loop() {
		got, err := s.PullChanges(ctx, ports.PullRequest{Since: since})
		if err != nil || len(got) != len(entries) {
			b.Fatal(err, len(got))
		}
		since = got[len(got)-1].Stamp
	}
}

// pageHandler serves the same entries for every pull.
type pageHandler struct {
	fakeHandler
	entries []domain.Entry
}

func (h *pageHandler) PullChanges(context.Context, ports.PeerInfo, ports.PullRequest) ([]domain.Entry, error) {
	return h.entries, nil
}

// benchDocs builds n chained entries shaped like make bench's documents.
func benchDocs(n int) []domain.Entry {
	const filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua "
	out := make([]domain.Entry, n)
	prev := ""
	for i := range out {
		var b strings.Builder
		fmt.Fprintf(&b, `{"id":%d,"cat":"c%03d","n":%d,"score":%.3f,"name":"user-%08d","active":%t,"tags":["a%d","b%d","c%d"],"address":{"city":"city-%d","zip":"%05d"},"text":"`,
			i, i%1000, i, float64(i*7919%100000)/100, i, i%2 == 0, i%7, i%11, i%13, i%50, i%100000)
		for b.Len() < 480 {
			b.WriteString(filler[:min(len(filler), 480-b.Len())])
		}
		b.WriteString(`"}`)
		e := domain.Entry{Collection: "docs", Key: fmt.Sprintf("d%08d", i), Op: domain.OpPut, Data: []byte(b.String()),
			Stamp: domain.Timestamp{Wall: 1764000000000 + int64(i), Node: "bench-a"}}
		e.Seal(prev)
		prev = e.Hash
		out[i] = e
	}
	return out
}
