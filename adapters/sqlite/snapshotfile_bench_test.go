package sqlite

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// BenchmarkSnapshotFile times a file snapshot of 20,000 documents of
// ~500 bytes: the server's copy, then the receiver's checks and install
// (the bootstrap row of make bench without the network).
func BenchmarkSnapshotFile(b *testing.B) {
	const docs = 20_000
	ctx := context.Background()
	dir := b.TempDir()
	src, err := Open(ctx, Options{Path: filepath.Join(dir, "a.db"), EnableWAL: true})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	pad := strings.Repeat("x", 450)
	for i := 0; i < docs; i += 1000 {
		var writes []ports.Write
		for k := i; k < i+1000; k++ {
			writes = append(writes, ports.Write{Entry: domain.Entry{Collection: "c", Key: fmt.Sprint("k", k), Op: domain.OpPut,
				Data: fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, k, pad), Stamp: domain.Timestamp{Wall: 1_700_000_000_000 + int64(k), Node: "A"}}})
		}
		if _, err := src.Commit(ctx, domain.LastWriteWins{}, writes...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		path, err := benchWriteSnapshot(ctx, src, key)
		if err != nil {
			b.Fatal(err)
		}
		dst, err := Open(ctx, Options{Path: filepath.Join(dir, fmt.Sprint("c", i, ".db")), EnableWAL: true})
		if err != nil {
			b.Fatal(err)
		}
		check := benchCheck()
		check.CheckEntry = func(e *domain.Entry) error {
			return domain.ValidateEntry(e, domain.EntryLimits{MaxDocumentBytes: 1 << 20})
		}
		if _, err := dst.InstallSnapshotFile(ctx, check, fetchFrom(path)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		removeDBFiles(path)
		_ = dst.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(docs)*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
