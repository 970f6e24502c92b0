package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
)

// benchPage is a PullChanges answer the size of make bench's bootstrap
// pages: 1,000 entries of ~500-byte JSON documents.
func benchPage() *pb.ChangeSetResponse {
	const filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua "
	// Chained SHA-256 hex hashes: incompressible, like real ones.
	hash := func(i int) string {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		return hex.EncodeToString(sum[:])
	}
	cs := &pb.ChangeSetResponse{}
	prev := hash(-1)
	for i := range 1000 {
		var b strings.Builder
		fmt.Fprintf(&b, `{"id":%d,"cat":"c%03d","n":%d,"score":%.3f,"name":"user-%08d","active":%t,"tags":["a%d","b%d","c%d"],"address":{"city":"city-%d","zip":"%05d"},"text":"`,
			i, i%1000, i, float64(i*7919%100000)/100, i, i%2 == 0, i%7, i%11, i%13, i%50, i%100000)
		for b.Len() < 480 {
			b.WriteString(filler[:min(len(filler), 480-b.Len())])
		}
		b.WriteString(`"}`)
		cs.Entries = append(cs.Entries, &pb.ProtoOplogEntry{
			Collection: "docs", Key: fmt.Sprintf("d%08d", i), Operation: "Put", JsonData: b.String(),
			HlcWall: 1795594600000 + int64(i), HlcNode: "bench-a",
			Hash:         hash(i),
			PreviousHash: prev,
		})
		prev = hash(i)
	}
	return cs
}

// BenchmarkPageCompress is the sender's Brotli work for one page.
func BenchmarkPageCompress(b *testing.B) {
	payload, err := proto.Marshal(benchPage())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		out = Compress(payload, DefaultBrotliQuality)
	}
	b.ReportMetric(float64(len(payload))/float64(len(out)), "ratio")
}

// BenchmarkPageDecompress is the receiver's Brotli work for one page.
func BenchmarkPageDecompress(b *testing.B) {
	payload, err := proto.Marshal(benchPage())
	if err != nil {
		b.Fatal(err)
	}
	comp := Compress(payload, DefaultBrotliQuality)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decompress(comp, DefaultMaxFrameBytes); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPageChannel sends one page through a secure, compressed channel
// and decodes it on the other side (the whole transport cost of a page).
func BenchmarkPageChannel(b *testing.B) {
	page := benchPage()
	size := proto.Size(page)
	cc, sc := channelPair(b, "secure")
	noDeadline(cc, sc)
	cc.SetCompression(true)
	sc.SetCompression(true)
	done := serve(sc, ChangeSetRes, page)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var resp pb.ChangeSetResponse
	for b.Loop() {
		resp.Reset()
		if err := cc.Call(PullChangesReq, &pb.PullChangesRequest{}, ChangeSetRes, &resp); err != nil {
			b.Fatal(err)
		}
	}
	cc.Conn().Close()
	<-done
}
