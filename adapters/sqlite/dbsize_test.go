package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/stretchr/testify/require"
)

// sizeDoc is a ~480-byte JSON document, like the bench's.
func sizeDoc(i int) []byte {
	const filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua "
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":%d,"cat":"c%03d","n":%d,"name":"user-%08d","tags":["a%d","b%d"],"text":"`, i, i%1000, i, i, i%7, i%11)
	for b.Len() < 480 {
		b.WriteString(filler[:min(len(filler), 480-b.Len())])
	}
	b.WriteString(`"}`)
	return []byte(b.String())
}

// TestDatabaseBytesPerDocument: fresh documents written by batches and
// single Puts cost the database little more than their JSON, since each
// document's bytes are stored once (storedonce.go): two copies would make
// the file more than twice the JSON. The breakdown by table is logged.
func TestDatabaseBytesPerDocument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "size.db")
	s, err := sqlite.Open(ctx, sqlite.Options{Path: path, EnableWAL: true})
	require.NoError(t, err)
	var jsonBytes int64
	const docs, batch, puts = 5000, 1000, 500
	for lo := 0; lo < docs; lo += batch {
		writes := make([]ports.Write, batch)
		for i := range writes {
			d := sizeDoc(lo + i)
			jsonBytes += int64(len(d))
			writes[i] = ports.Write{Entry: domain.Entry{Collection: "docs", Key: fmt.Sprintf("d%08d", lo+i), Op: domain.OpPut, Data: d,
				Stamp: domain.Timestamp{Wall: 1_700_000_000_000 + int64(lo), Node: "bench-a"}}}
		}
		_, err := s.Commit(ctx, domain.LastWriteWins{}, writes...)
		require.NoError(t, err)
	}
	for i := range puts {
		d := sizeDoc(i)
		jsonBytes += int64(len(d))
		_, err := s.Commit(ctx, domain.LastWriteWins{}, ports.Write{Entry: domain.Entry{Collection: "put", Key: fmt.Sprintf("p%08d", i), Op: domain.OpPut, Data: d,
			Stamp: domain.Timestamp{Wall: 1_800_000_000_000 + int64(i), Node: "bench-a"}}})
		require.NoError(t, err)
	}
	require.NoError(t, s.Checkpoint(ctx))
	require.NoError(t, s.Close())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT name, sum(pgsize), sum(unused), count(*) FROM dbstat GROUP BY name ORDER BY 2 DESC`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		var size, unused, pages int64
		require.NoError(t, rows.Scan(&name, &size, &unused, &pages))
		t.Logf("%-28s %9d bytes (%5.1f B/doc, unused %4.1f%%) %d pages", name, size, float64(size)/float64(docs+puts), 100*float64(unused)/float64(size), pages)
	}
	ratio := float64(fi.Size()) / float64(jsonBytes)
	t.Logf("file %d bytes, JSON %d bytes, ratio %.3f", fi.Size(), jsonBytes, ratio)
	require.Less(t, ratio, 1.9)
}
