package app

import (
	"context"
	"slices"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// ChainStore is what the chain check reads of the store.
type ChainStore interface {
	VectorClock(ctx context.Context) (domain.VectorClock, error)
	Heads(ctx context.Context) (map[string]string, error)
	AuthorEntriesAfter(ctx context.Context, author string, since domain.Timestamp, limit int) ([]domain.Entry, error)
}

// chainCheckPage is how many entries the chain check reads at a time.
const chainCheckPage = 2000

// CheckChains verifies the hash chain of author (every author when ""),
// as this node holds it: each entry's hash must match its contents, each
// link must name the entry before it, and the newest entry must be the
// head the store records. A link to an entry not held is a gap (compaction,
// pruning and snapshots leave them), not a break; a link to a held entry
// that is not the one before it is a break (a fork).
func CheckChains(ctx context.Context, store ChainStore, author string) ([]ports.ChainReport, error) {
	vc, err := store.VectorClock(ctx)
	if err != nil {
		return nil, err
	}
	heads, err := store.Heads(ctx)
	if err != nil {
		return nil, err
	}
	authors := make([]string, 0, len(vc))
	for a := range vc {
		if author == "" || a == author {
			authors = append(authors, a)
		}
	}
	if author != "" && len(authors) == 0 {
		return nil, domain.Errorf(domain.CodeNotFound, "app.CheckChains", "this node holds no entry of author %q", author)
	}
	slices.Sort(authors)
	out := make([]ports.ChainReport, 0, len(authors))
	for _, a := range authors {
		rep, err := checkChain(ctx, store, a, heads[a])
		if err != nil {
			return nil, err
		}
		out = append(out, rep)
	}
	return out, nil
}

func checkChain(ctx context.Context, store ChainStore, author, head string) (ports.ChainReport, error) {
	rep := ports.ChainReport{Author: author, Intact: true}
	held := map[string]bool{} // hashes of the author's entries before the current one
	var prev *domain.Entry
	var since domain.Timestamp
	for {
		page, err := store.AuthorEntriesAfter(ctx, author, since, chainCheckPage)
		if err != nil {
			return rep, err
		}
		for i := range page {
			e := &page[i]
			rep.Entries++
			if rep.Intact {
				if reason := linkProblem(e, prev, held); reason == "gap" {
					rep.Gaps++
				} else if reason != "" {
					rep.Intact, rep.Break = false, breakAt(e, reason)
				}
			}
			held[e.Hash] = true
			cp := *e
			prev = &cp
		}
		if len(page) < chainCheckPage {
			break
		}
		since = page[len(page)-1].Stamp
	}
	if prev != nil {
		rep.Head = prev.Hash
		if rep.Intact && head != "" && head != prev.Hash {
			rep.Intact, rep.Break = false, breakAt(prev, "the newest entry held is not the head the store records ("+head+")")
		}
	}
	return rep, nil
}

// linkProblem says what is wrong with e after prev: "" when it links up,
// "gap" when it links to an entry not held, else why the chain breaks.
// Entries that share a stamp (one batch) count as one step, so their
// links are checked only for their own hashes.
func linkProblem(e, prev *domain.Entry, held map[string]bool) string {
	switch {
	case !e.VerifyHash():
		return "the entry's hash does not match its contents"
	case prev == nil && e.PrevHash == "":
		return ""
	case prev != nil && e.PrevHash == prev.Hash:
		return ""
	case prev != nil && e.Stamp.Wall == prev.Stamp.Wall && e.Stamp.Logical == prev.Stamp.Logical:
		return ""
	case held[e.PrevHash]:
		return "it links to " + e.PrevHash + ", an earlier entry that is not the one before it (a fork)"
	default:
		return "gap"
	}
}

func breakAt(e *domain.Entry, reason string) *ports.ChainBreak {
	return &ports.ChainBreak{Version: e.Stamp.String(), Collection: e.Collection, Key: e.Key, Hash: e.Hash, Reason: reason}
}
