package app

import (
	"bytes"
	"context"
	"slices"

	"github.com/entgldb/entgldb-go/domain"
)

// provenPage is a page whose proofs of authorship were checked
// (checkProofs); admit then decides what of it we take.
type provenPage struct {
	entries []domain.Entry // a copy; verified entries carry their Link
	key     [][]byte       // the key that proved entries[i]; nil: unproven or failed
	failed  []error        // why entries[i]'s proof failed (nil when none did)
}

// checkProofs verifies the proofs a page carries; its entries passed
// validateEntries (their hashes match their contents). Each author's entries,
// in stamp order, are cut into segments: a segment ends at an entry that
// carries a proof, and where its entries stop linking to each other (a
// hashless or legacy entry, a hole: where the sender's runs end too,
// provableRuns). domain.VerifyRun checks each segment that ends with a
// proof. It needs nothing of our state, so a pull runs it while the
// previous page is applied; what the keys are worth is admit's business.
func checkProofs(entries []domain.Entry) provenPage {
	pp := provenPage{entries: slices.Clone(entries), key: make([][]byte, len(entries))}
	for _, idx := range byAuthorInOrder(pp.entries) {
		start := 0
		for k, i := range idx {
			en := &pp.entries[i]
			if k > start && !continuesRun(&pp.entries[idx[k-1]], en) {
				start = k // the entries before cannot be proven with this one
			}
			if en.Proof == nil {
				continue
			}
			pp.verify(idx[start : k+1])
			start = k + 1
		}
	}
	return pp
}

// continuesRun says whether en, the next entry of its author after prev,
// may be proven together with it.
func continuesRun(prev, en *domain.Entry) bool {
	return prev.Hash != "" && !prev.Legacy && en.Hash != "" && !en.Legacy && en.PrevHash == prev.Hash
}

// verify checks one segment (indexes into pp.entries) against the proof on
// its last entry.
func (pp *provenPage) verify(seg []int) {
	run := make([]domain.Entry, len(seg))
	for k, i := range seg {
		run[k] = pp.entries[i]
	}
	last := pp.entries[seg[len(seg)-1]]
	// validateEntries checked each entry's hash already.
	links, err := domain.VerifyRunHashed(last.Author(), run, last.Proof)
	for k, i := range seg {
		if err != nil {
			if pp.failed == nil {
				pp.failed = make([]error, len(pp.entries))
			}
			pp.failed[i] = err
			continue
		}
		pp.entries[i].Link = links[k]
		pp.entries[i].Legacy = false
		pp.key[i] = last.Proof.PublicKey
	}
	if err == nil {
		pp.entries[seg[0]].PrevLink = last.Proof.LinkBefore
	}
}

// byAuthorInOrder groups the indexes of entries by author, each group in
// stamp order.
func byAuthorInOrder(entries []domain.Entry) map[string][]int {
	groups := map[string][]int{}
	for i := range entries {
		a := entries[i].Author()
		groups[a] = append(groups[a], i)
	}
	for _, idx := range groups {
		slices.SortStableFunc(idx, func(x, y int) int { return entries[x].Stamp.Compare(entries[y].Stamp) })
	}
	return groups
}

// chainView is what admit needs of our chains: our newest stamp and head
// per author.
type chainView struct {
	vc    domain.VectorClock
	heads map[string]string
}

// admit decides which entries of a checked page we take. An entry proven
// by its author's key is taken with its link: our own key for our node
// id, else the key pinned for the author (trust on first use: pinned only
// now, after the signature verified, so junk never pins a key). An
// unproven entry is taken only as legacy (isLegacy): from a legacy
// session, or marked legacy by a Go peer while this node has a legacy
// opt-in; never for our node id or an author whose key we know (so legacy
// entries never rewrite a Go node's history), and hashless only for an
// author whose chain we do not hold. Every other entry that would be
// applied is refused, UNAUTHORIZED; entries we hold already, and unproven
// ones that do not link to what we hold (a gap), are left out silently.
func (a *authors) admit(ctx context.Context, pp provenPage, legacySession bool, cv chainView) ([]domain.Entry, []rejection, error) {
	accepted := make([]domain.Entry, 0, len(pp.entries))
	var rejected []rejection
	checked := map[string]error{} // author and key → result of the key check, this page
	var linking []bool            // linkingEntries, once an unproven entry needs it
	hasKey := map[string]bool{}   // author → a key is known for it, this page
	refuse := func(en *domain.Entry, cause error) {
		rejected = append(rejected, rejection{author: en.Author(), err: refusal(en, cause)})
	}
	for i := range pp.entries {
		en := &pp.entries[i]
		author := en.Author()
		if !en.Stamp.After(cv.vc[author]) {
			continue // held already
		}
		if pp.failed != nil && pp.failed[i] != nil {
			if domain.Planted(domain.BugSkipProofCheck) {
				accepted = append(accepted, *en)
				continue
			}
			refuse(en, unproven(author, domain.Message(pp.failed[i])))
			continue
		}
		if key := pp.key[i]; key != nil {
			ck := author + "\x00" + string(key)
			err, done := checked[ck]
			if !done {
				if err = a.checkKey(ctx, author, key); err != nil && domain.CodeOf(err) != domain.CodeUnauthorized {
					return nil, nil, domain.Wrap(domain.CodePersistence, "sync.admit", err)
				}
				checked[ck] = err
			}
			if err != nil {
				refuse(en, err)
				continue
			}
			accepted = append(accepted, *en)
			continue
		}
		ok, err := a.isLegacy(ctx, en, legacySession, cv, hasKey)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			if linking == nil {
				linking = linkingEntries(pp.entries, cv)
			}
			if linking[i] {
				refuse(en, unproven(author, "no proof of its author"))
			}
			// Else it could not be applied anyway (a gap): left out, so the
			// round fills the gap with a chain range or a snapshot, where
			// it is proven or refused.
			continue
		}
		en.Legacy, en.Link, en.Proof = true, nil, nil
		accepted = append(accepted, *en)
	}
	return accepted, rejected, nil
}

// linkingEntries says which entries would be applied if all were taken
// (domain.LinkEntries' rule): hashless ones (unchained), all of an author
// whose chain we hold unchained, and those that continue the chain we hold
// of their author, directly or through other entries of the page.
func linkingEntries(entries []domain.Entry, cv chainView) []bool {
	out := make([]bool, len(entries))
	for author, idx := range byAuthorInOrder(entries) {
		head := cv.heads[author]
		unchained := head == "" && !cv.vc[author].IsZero()
		for _, i := range idx {
			en := &entries[i]
			switch {
			case en.Hash == "" || unchained:
				out[i] = true
			case en.PrevHash == head:
				out[i], head = true, en.Hash
			}
		}
	}
	return out
}

// unproven is the cause of an entry refused for want of a valid proof.
func unproven(author, why string) error {
	return domain.Errorf(domain.CodeUnauthorized, "sync.authors", "entry of %s: %s", clipName(author), why)
}

// checkKey accepts key as author's: ours for our node id, else the one
// pinned for it (pinning it when none is).
func (a *authors) checkKey(ctx context.Context, author string, key []byte) error {
	if author == a.self {
		if !bytes.Equal(key, a.pub) {
			return domain.Errorf(domain.CodeUnauthorized, "sync.authors",
				"entries in our own name signed by another key (%s)", domain.KeyFingerprint(key))
		}
		return nil
	}
	a.mu.Lock()
	cached, ok := a.pinned[author]
	a.mu.Unlock()
	if ok && cached == string(key) {
		return nil
	}
	if err := a.store.CheckPeerKey(ctx, author, key); err != nil {
		return err
	}
	a.mu.Lock()
	if len(a.pinned) >= maxPinnedCache {
		clear(a.pinned)
	}
	a.pinned[author] = string(key)
	a.mu.Unlock()
	return nil
}

// isLegacy says whether an unproven entry may be taken as legacy.
func (a *authors) isLegacy(ctx context.Context, en *domain.Entry, legacySession bool, cv chainView, hasKey map[string]bool) (bool, error) {
	author := en.Author()
	if author == a.self || !legacySession && !(en.Legacy && a.acceptLegacy) {
		return false, nil
	}
	if en.Hash == "" && cv.heads[author] != "" {
		return false, nil // would cut into a chain we hold
	}
	known, ok := hasKey[author]
	if !ok {
		_, found, err := a.store.PeerKey(ctx, author)
		if err != nil {
			return false, domain.Wrap(domain.CodePersistence, "sync.admit", err)
		}
		known, hasKey[author] = found, found
	}
	return !known, nil
}
