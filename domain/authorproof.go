package domain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
)

// Proven authorship (SECURITY.md, "Authors are proven").
//
// The v5 chain hash covers an entry's metadata, not its document, and
// anyone who holds the cluster key can compute it. So every author also
// keeps a content chain: each entry's link commits to the entry's hash and
// document and to the link before it,
//
//	digest(e) = SHA-256("entgldb/entry/v1" 0x00 hash 0x00 data)
//	            (with an expiry: "entgldb/entry-expiring/v1" 0x00 hash 0x00 expiry-int64-BE data)
//	link(e)   = SHA-256(link(previous entry) ‖ digest(e))   (32 zero bytes before the first)
//
// and the author signs a link with its ed25519 identity key. One signature
// over the link of an author's newest entry in a page proves every entry of
// that author in the page, so a page costs one verification per author
// rather than one per entry. A node that relays the entries keeps the
// signature; when its page stops before the signed entry, it sends the
// digests of the entries between (Tail), from which the receiver reaches
// the signed link. The link before a run comes with the proof: the
// signature covers it, so it need not be trusted.

// LinkSize is the length of a content link and of an entry digest.
const LinkSize = sha256.Size

// MaxProofTail bounds the digests a proof may carry (what a relay may need
// between the end of its page and the signed entry).
const MaxProofTail = 1 << 16

var (
	entryDigestTag    = []byte("entgldb/entry/v1\x00")
	expiringDigestTag = []byte("entgldb/entry-expiring/v1\x00")
	headStatementTag  = []byte("entgldb/author-head/v1\x00")
	boundaryLinkTag   = []byte("entgldb/boundary/v1\x00")
	// GenesisLink is the link before an author's first entry.
	GenesisLink = make([]byte, LinkSize)
)

// BoundaryLink stands for the link before an entry whose predecessor we
// hold without a link (a chain that starts after a pruned or snapshot
// boundary, or entries kept from before links existed). It is derived from
// the predecessor's hash, so nodes holding the same boundary agree on it.
func BoundaryLink(prevHash string) []byte {
	h := sha256.New()
	h.Write(boundaryLinkTag)
	io.WriteString(h, prevHash)
	return h.Sum(nil)
}

// AuthorProof proves a run of one author's entries. On the wire it rides on
// the run's last entry; in a store it is kept on the entry whose proof
// arrived (LinkBefore is then not kept: it depends on where a page starts).
type AuthorProof struct {
	// PublicKey is the author's ed25519 identity key.
	PublicKey []byte
	// LinkBefore is the link of the author's entry before the run
	// (GenesisLink when the run starts the chain).
	LinkBefore []byte
	// Tail holds the digests of the author's entries after the run, up to
	// and including the entry whose link was signed; empty when that entry
	// ends the run.
	Tail [][]byte
	// Signature is the author's signature over HeadStatement of the
	// signed link.
	Signature []byte
}

// EntryDigest commits to an entry's hash (its metadata and place in the
// chain) and its document.
func EntryDigest(e *Entry) []byte {
	return entryDigest(sha256.New(), e, nil)
}

// entryDigest appends e's digest to dst, reusing h. An expiry is covered
// too (under its own tag, so entries without one digest as before): a
// relay must not be able to make a document expire early.
func entryDigest(h hash.Hash, e *Entry, dst []byte) []byte {
	h.Reset()
	if e.ExpiresAt == 0 {
		h.Write(entryDigestTag)
		io.WriteString(h, e.Hash)
		h.Write([]byte{0})
	} else {
		h.Write(expiringDigestTag)
		io.WriteString(h, e.Hash)
		var b [9]byte
		binary.BigEndian.PutUint64(b[1:], uint64(e.ExpiresAt))
		h.Write(b[:])
	}
	h.Write(e.Data)
	return h.Sum(dst)
}

// NextLink is the link of an entry whose digest is digest, after prev.
func NextLink(prev, digest []byte) []byte {
	var buf [2 * LinkSize]byte
	copy(buf[:LinkSize], prev)
	copy(buf[LinkSize:], digest)
	sum := sha256.Sum256(buf[:])
	return sum[:]
}

// LinkAfter is the link digests reach after link: the link of the last of
// the entries they are the digests of, in chain order (a proof's tail, or
// a bridge across entries a store no longer holds).
func LinkAfter(link []byte, digests [][]byte) []byte {
	for _, d := range digests {
		link = NextLink(link, d)
	}
	return link
}

// HeadStatement is what an author signs: its node id and a link of its
// chain (the node id keeps one node's signature from vouching for
// another's chain).
func HeadStatement(author string, link []byte) []byte {
	b := make([]byte, 0, len(headStatementTag)+len(author)+1+len(link))
	b = append(b, headStatementTag...)
	b = append(b, author...)
	b = append(b, 0)
	return append(b, link...)
}

// SignHead signs link as the head of author's chain with the author's key.
func SignHead(key ed25519.PrivateKey, author string, link []byte) []byte {
	return ed25519.Sign(key, HeadStatement(author, link))
}

// LinkRun returns the links of run (one author's entries in chain order)
// after before.
func LinkRun(before []byte, run []Entry) [][]byte {
	links := make([][]byte, len(run))
	// One allocation backs every link; digests share one scratch buffer.
	backing := make([]byte, LinkSize*len(run))
	h := sha256.New()
	var buf [2 * LinkSize]byte
	for i := range run {
		copy(buf[:LinkSize], before)
		entryDigest(h, &run[i], buf[LinkSize:LinkSize])
		sum := sha256.Sum256(buf[:])
		links[i] = backing[i*LinkSize : (i+1)*LinkSize : (i+1)*LinkSize]
		copy(links[i], sum[:])
		before = links[i]
	}
	return links
}

// VerifyRun checks that proof, made by the holder of proof.PublicKey,
// proves run: entries of author in chain order, each carrying a hash that
// matches its contents. It returns each entry's link. The caller decides
// whether PublicKey is author's key (peer keys are trusted on first use).
func VerifyRun(author string, run []Entry, proof *AuthorProof) ([][]byte, error) {
	return verifyRun(author, run, proof, true)
}

// VerifyRunHashed is VerifyRun for entries whose hashes the caller has
// already checked against their contents (a pull checks every entry on
// its own first): the rest is the same.
func VerifyRunHashed(author string, run []Entry, proof *AuthorProof) ([][]byte, error) {
	return verifyRun(author, run, proof, false)
}

func verifyRun(author string, run []Entry, proof *AuthorProof, checkHashes bool) ([][]byte, error) {
	const op = "domain.VerifyRun"
	if err := proof.check(); err != nil {
		return nil, err
	}
	for i := range run {
		e := &run[i]
		if e.Author() != author {
			return nil, Errorf(CodeInvalidArgument, op, "entry %d of a run of %q is authored by another node", i, author)
		}
		if e.Hash == "" {
			return nil, Errorf(CodeUnauthorized, op, "entry %d of %q has no hash, so it cannot be proven", i, author)
		}
		if checkHashes && !e.VerifyHash() {
			return nil, Errorf(CodeUnauthorized, op, "entry %d of %q: hash does not match its contents", i, author)
		}
		if i > 0 && e.PrevHash != run[i-1].Hash {
			return nil, Errorf(CodeUnauthorized, op, "entry %d of %q does not follow the entry before it", i, author)
		}
	}
	links := LinkRun(proof.LinkBefore, run)
	head := proof.LinkBefore
	if len(links) > 0 {
		head = links[len(links)-1]
	}
	head = LinkAfter(head, proof.Tail)
	if !ed25519.Verify(proof.PublicKey, HeadStatement(author, head), proof.Signature) {
		return nil, Errorf(CodeUnauthorized, op, "the entries of %q are not signed by the key they present (forged or altered)", author)
	}
	return links, nil
}

// check bounds a proof's parts before any work is spent on it.
func (p *AuthorProof) check() error {
	const op = "domain.AuthorProof"
	if p == nil {
		return Errorf(CodeUnauthorized, op, "no proof of authorship")
	}
	if len(p.PublicKey) != ed25519.PublicKeySize || len(p.Signature) != ed25519.SignatureSize || len(p.LinkBefore) != LinkSize {
		return Errorf(CodeInvalidArgument, op, "malformed proof: key, signature or link of the wrong length")
	}
	if len(p.Tail) > MaxProofTail {
		return Errorf(CodeInvalidArgument, op, "proof tail of %d digests exceeds %d", len(p.Tail), MaxProofTail)
	}
	for _, d := range p.Tail {
		if len(d) != LinkSize {
			return Errorf(CodeInvalidArgument, op, "malformed proof: a tail digest of the wrong length")
		}
	}
	return nil
}

// KeyFingerprint names a public key in messages: the first bytes of its hex.
func KeyFingerprint(key []byte) string {
	s := hex.EncodeToString(key)
	if len(s) > 16 {
		s = s[:16]
	}
	return s
}
