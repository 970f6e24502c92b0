package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"sync"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// authorStore is what proving and checking authors needs of the store.
type authorStore interface {
	ports.ProofStore
	ports.PeerKeys
	ports.PeerKeyReader
}

// authors proves the entries we send and checks the proofs of those we
// receive (SECURITY.md, "Authors are proven"): proofs.go and
// sync_authors.go. The engine and the service each hold one over the
// store they share.
type authors struct {
	self  string
	key   ed25519.PrivateKey
	pub   ed25519.PublicKey
	store authorStore
	// acceptLegacy: this node has a legacy opt-in (Security.LegacyPeers),
	// so entries a Go peer marks legacy may be taken unproven.
	acceptLegacy bool

	mu sync.Mutex
	// pinned caches the authors whose key matched their pin: a pin never
	// changes, so the store is asked once per author, not once per page.
	pinned map[string]string
	// signed caches our signatures by the hash of the entry whose link
	// they sign, so a page served to several peers is signed once. They are
	// not written to the store: a write while serving would make the
	// store's readers drop their page cache on every page.
	signed map[string][]byte
}

// maxPinnedCache bounds the cached pins (a peer may invent authors).
const maxPinnedCache = 4096

// maxSignedCache bounds the cached signatures of our own entries.
const maxSignedCache = 1024

func newAuthors(store ports.Store, self string, key ed25519.PrivateKey, acceptLegacy bool) (*authors, error) {
	as, ok := store.(authorStore)
	if !ok {
		return nil, domain.Errorf(domain.CodeConfig, "app.authors",
			"the store keeps no proofs of authorship (ports.ProofStore, ports.PeerKeys and ports.PeerKeyReader)")
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, domain.Errorf(domain.CodeConfig, "app.authors", "the identity key must be an ed25519 private key")
	}
	au := authorsOver(as, self, key, acceptLegacy)
	// Our id is pinned to our key as a peer's is: a database restored from
	// a backup takes a new node id and keeps the key file, and this pin is
	// how it knows its former id's entries for its own (formerSelf). Best
	// effort: a store that cannot write now loses only that.
	_ = as.CheckPeerKey(context.Background(), self, au.pub)
	return au, nil
}

// formerSelf says whether author is this node under an id it had before
// (a restore from a backup gives a node a new one): its pinned key is
// ours. Entries of that author only we may hold; we sign them as it.
func (a *authors) formerSelf(ctx context.Context, author string) bool {
	key, ok, err := a.store.PeerKey(ctx, author)
	return err == nil && ok && bytes.Equal(key, a.pub)
}

func authorsOver(store authorStore, self string, key ed25519.PrivateKey, acceptLegacy bool) *authors {
	return &authors{self: self, key: key, pub: key.Public().(ed25519.PublicKey), store: store,
		acceptLegacy: acceptLegacy, pinned: map[string]string{}}
}

// ephemeralIdentity is a key generated once, for a node given none.
type ephemeralIdentity struct {
	once sync.Once
	key  ed25519.PrivateKey
}

// syncIdentity is key, or the database's ephemeral key when key is nil:
// an embedder that gives no identity (tests) still syncs, and its engine
// and service sign with the same key. Peers pin whatever key a node
// first presents, so a real node passes its persistent one.
func (db *Database) syncIdentity(key ed25519.PrivateKey) ed25519.PrivateKey {
	if key != nil {
		return key
	}
	db.ephemeral.once.Do(func() {
		_, db.ephemeral.key, _ = ed25519.GenerateKey(nil)
	})
	return db.ephemeral.key
}
