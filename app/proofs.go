package app

import (
	"bytes"
	"context"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// prove returns entries (one page, push or chain range, each author's
// entries in chain order) with a proof of its author on the last entry of
// each author's run, which proves the whole run (domain.AuthorProof). A
// run is what a receiver can verify in one piece: consecutive entries of
// one author that link to each other and whose links we hold. Entries we
// cannot prove (no link: taken from a legacy peer or held from before
// links existed) go without, and the receiver decides; legacy ones keep
// their mark. Stored proofs on other entries are left out: one per run is
// enough. entries is not modified (gossip sends one slice to many peers).
func (a *authors) prove(ctx context.Context, entries []domain.Entry) ([]domain.Entry, error) {
	if len(entries) == 0 {
		return entries, nil
	}
	out := make([]domain.Entry, len(entries))
	copy(out, entries)
	runs := provableRuns(out)
	for _, run := range runs {
		// The proof the store keeps on the run's last entry, if any.
		stored := entries[run[len(run)-1]].Proof
		if err := a.proveRun(ctx, out, run, stored); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// proofRun is one author's run in a slice: the indexes of its entries.
type proofRun []int

// provableRuns strips every proof from entries and splits each author's
// entries into runs, in order.
func provableRuns(entries []domain.Entry) []proofRun {
	open := map[string]int{} // author → index in runs of its current run
	var runs []proofRun
	for i := range entries {
		en := &entries[i]
		en.Proof = nil
		a := en.Author()
		if en.Legacy || en.Link == nil || en.Hash == "" {
			delete(open, a)
			continue
		}
		if r, ok := open[a]; ok && continuesRun(&entries[runs[r][len(runs[r])-1]], en) {
			runs[r] = append(runs[r], i)
			continue
		}
		open[a] = len(runs)
		runs = append(runs, proofRun{i})
	}
	return runs
}

// proveRun attaches the proof of run to its last entry, when it can be
// proven; stored is the proof the store keeps on that entry (nil: none).
func (a *authors) proveRun(ctx context.Context, entries []domain.Entry, run proofRun, stored *domain.AuthorProof) error {
	first, last := &entries[run[0]], &entries[run[len(run)-1]]
	author := first.Author()
	before, err := a.linkBefore(ctx, first)
	if err != nil {
		return err
	}
	if before == nil {
		if author == a.self {
			a.signRebased(entries, run)
		}
		return nil // the receiver decides
	}
	var proof domain.AuthorProof
	switch {
	case stored != nil:
		proof = *stored
	case author == a.self:
		proof = domain.AuthorProof{PublicKey: a.pub, Signature: a.signOwn(last)}
	default:
		tail, after, err := a.store.ProofAfter(ctx, author, last.Stamp)
		if err != nil {
			return domain.Wrap(domain.CodePersistence, "sync.prove", err)
		}
		switch {
		case after != nil:
			proof = *after
			proof.Tail = append(tail[:len(tail):len(tail)], after.Tail...)
		case a.formerSelf(ctx, author):
			// Ours under a former id: peers know that id by our key.
			proof = domain.AuthorProof{PublicKey: a.pub, Signature: domain.SignHead(a.key, author, last.Link)}
		default:
			return nil // nothing we hold proves it: the receiver decides
		}
	}
	proof.LinkBefore = before
	last.Proof = &proof
	return nil
}

// signOwn signs the link of last, an entry of ours.
func (a *authors) signOwn(last *domain.Entry) []byte {
	a.mu.Lock()
	sig, ok := a.signed[last.Hash]
	a.mu.Unlock()
	if ok {
		return sig
	}
	sig = domain.SignHead(a.key, a.self, last.Link)
	a.mu.Lock()
	if a.signed == nil || len(a.signed) >= maxSignedCache {
		a.signed = map[string][]byte{}
	}
	a.signed[last.Hash] = sig
	a.mu.Unlock()
	return sig
}

// signRebased proves a run of our own entries whose first link came from
// an entry we no longer hold (pruned): we sign the links the run has after
// the boundary of that entry, which is what a receiver that does not hold
// it either computes and keeps (domain.LinkBefore), so it can prove the
// run onward. That proof is not kept: it is not over our stored links.
func (a *authors) signRebased(entries []domain.Entry, run proofRun) {
	es := make([]domain.Entry, len(run))
	for k, i := range run {
		es[k] = entries[i]
	}
	before := domain.LinkBefore(es[0].PrevHash, nil)
	links := domain.LinkRun(before, es)
	entries[run[len(run)-1]].Proof = &domain.AuthorProof{PublicKey: a.pub, LinkBefore: before,
		Signature: domain.SignHead(a.key, a.self, links[len(links)-1])}
}

// linkBefore is the link before first that the store used for first's
// link (domain.LinkBefore: the genesis link, its predecessor's link, or the
// boundary link of its predecessor's hash); nil when that does not give
// first's link (then the run cannot be proven).
func (a *authors) linkBefore(ctx context.Context, first *domain.Entry) ([]byte, error) {
	var prev []byte
	if first.PrevHash != "" {
		var err error
		if prev, err = a.store.LinkOf(ctx, first.PrevHash); err != nil {
			return nil, domain.Wrap(domain.CodePersistence, "sync.prove", err)
		}
	}
	before := domain.LinkBefore(first.PrevHash, prev)
	if !bytes.Equal(domain.NextLink(before, domain.EntryDigest(first)), first.Link) {
		return nil, nil
	}
	return before, nil
}

// provePush proves entries we push to s (none for a legacy peer).
func (e *SyncEngine) provePush(ctx context.Context, s ports.PeerSession, entries []domain.Entry) ([]domain.Entry, error) {
	if s.Legacy() {
		return entries, nil
	}
	return e.authors.prove(ctx, entries)
}
