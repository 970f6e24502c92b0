package sqlite

import (
	"context"
	"crypto/ed25519"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

func benchWriteSnapshot(ctx context.Context, s *Store, key ed25519.PrivateKey) (string, error) {
	return s.WriteSnapshotFile(ctx, "x", ports.SnapshotSigner{Author: "A", PublicKey: key.Public().(ed25519.PublicKey),
		Sign: func(link []byte) []byte { return domain.SignHead(key, "A", link) }})
}

func benchCheck() ports.SnapshotFileCheck { return ports.SnapshotFileCheck{Cluster: "x", Self: "C"} }
