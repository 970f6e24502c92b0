package porttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/entgldb/entgldb-go/ports"
)

// StateHash digests a store's documents (tombstones included) and its
// vector clock: two replicas with equal hashes hold identical databases.
// Convergence tests compare replicas with it.
func StateHash(ctx context.Context, store interface {
	ports.Snapshotter
	ports.OplogReader
}) (string, error) {
	snap, err := store.Snapshot(ctx)
	if err != nil {
		return "", err
	}
	docs := snap.Documents
	sort.Slice(docs, func(i, j int) bool {
		if docs[i].Collection != docs[j].Collection {
			return docs[i].Collection < docs[j].Collection
		}
		return docs[i].Key < docs[j].Key
	})
	h := sha256.New()
	for _, d := range docs {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%v\x00%s\n", d.Collection, d.Key, d.Stamp, d.Deleted, d.Data)
	}
	vc, err := store.VectorClock(ctx)
	if err != nil {
		return "", err
	}
	authors := make([]string, 0, len(vc))
	for a := range vc {
		authors = append(authors, a)
	}
	sort.Strings(authors)
	for _, a := range authors {
		fmt.Fprintf(h, "vc %s %s\n", a, vc[a])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
