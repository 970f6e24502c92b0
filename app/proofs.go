package app

import (
	"bytes"
	"context"

	"github.com/entgldb/entgldb-go/domain"
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
	before, err := a.linkBefore(ctx, first)
	if err != nil || before == nil {
		return err
	}
	author := first.Author()
	var proof domain.AuthorProof
	switch {
	case stored != nil:
		proof = *stored
	case author == a.self:
		proof = domain.AuthorProof{PublicKey: a.pub, Signature: domain.SignHead(a.key, author, last.Link)}
		// Kept, so each entry of ours is signed once, not once per peer.
		if err := a.store.SetProof(ctx, last.Hash, proof); err != nil {
			return domain.Wrap(domain.CodePersistence, "sync.prove", err)
		}
	default:
		tail, after, err := a.store.ProofAfter(ctx, author, last.Stamp)
		if err != nil {
			return domain.Wrap(domain.CodePersistence, "sync.prove", err)
		}
		if after == nil {
			return nil // nothing we hold proves it: the receiver decides
		}
		proof = *after
		proof.Tail = append(tail[:len(tail):len(tail)], after.Tail...)
	}
	proof.LinkBefore = before
	last.Proof = &proof
	return nil
}

// linkBefore is the link before first that the store used for first's
// link: the genesis link, its predecessor's link, or the boundary link of
// its predecessor's hash; nil when none gives first's link (then the run
// cannot be proven).
func (a *authors) linkBefore(ctx context.Context, first *domain.Entry) ([]byte, error) {
	digest := domain.EntryDigest(first)
	fits := func(before []byte) bool { return bytes.Equal(domain.NextLink(before, digest), first.Link) }
	if first.PrevHash == "" {
		if fits(domain.GenesisLink) {
			return domain.GenesisLink, nil
		}
		return nil, nil
	}
	prev, err := a.store.LinkOf(ctx, first.PrevHash)
	if err != nil {
		return nil, domain.Wrap(domain.CodePersistence, "sync.prove", err)
	}
	if prev != nil && fits(prev) {
		return prev, nil
	}
	if b := domain.BoundaryLink(first.PrevHash); fits(b) {
		return b, nil
	}
	return nil, nil
}

