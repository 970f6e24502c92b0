package domain

import "sort"

// LinkEntries keeps, per author, the entries that continue the chain we
// hold (following PrevHash from our head), in chain order, and drops those
// we already hold (stamp not after our vector clock). The rest would leave
// a hole in the chain: they are returned per author, in stamp order, and
// not applied. Entries without a hash (v4 authors) are taken as they come,
// and so are chained entries of an author whose head we do not know
// although we hold entries of it (its earlier entries came unchained).
func LinkEntries(entries []Entry, vc VectorClock, heads map[string]string) (linked []Entry, gaps map[string][]Entry) {
	// Group by author as indexes into entries: a page is mostly one or two
	// authors' long runs, and copying whole entries into per-author slices
	// (then again into linked) was most of the cost.
	byAuthor := map[string][]int{}
	var authors []string
	for i := range entries {
		a := entries[i].Author()
		if !entries[i].Stamp.After(vc[a]) {
			continue // held already
		}
		if _, ok := byAuthor[a]; !ok {
			authors = append(authors, a)
		}
		byAuthor[a] = append(byAuthor[a], i)
	}
	sort.Strings(authors)
	linked = make([]Entry, 0, len(entries))
	for _, a := range authors {
		idx := byAuthor[a]
		less := func(i, j int) bool { return entries[idx[i]].Stamp.Before(entries[idx[j]].Stamp) }
		if !sort.SliceIsSorted(idx, less) {
			sort.SliceStable(idx, less)
		}
		es := func(k int) *Entry { return &entries[idx[k]] }
		head := heads[a]
		if head == "" && !vc[a].IsZero() {
			for k := range idx {
				linked = append(linked, *es(k))
			}
			continue
		}
		byPrev := make(map[string]int, len(idx))
		used := make([]bool, len(idx))
		for k := range idx {
			if es(k).Hash == "" {
				continue
			}
			if _, dup := byPrev[es(k).PrevHash]; !dup {
				byPrev[es(k).PrevHash] = k
			}
		}
		// Follow the chain from our head; unchained entries pass as they are.
		cur := head
		unused := len(idx)
		for {
			k, ok := byPrev[cur]
			if !ok || used[k] {
				break
			}
			used[k] = true
			unused--
			cur = es(k).Hash
		}
		var linkedHashes map[string]bool // only needed to spot duplicates among the rest
		if unused > 0 {
			linkedHashes = map[string]bool{}
			for k := range idx {
				if used[k] {
					linkedHashes[es(k).Hash] = true
				}
			}
		}
		var rest []Entry
		for k := range idx {
			switch {
			case es(k).Hash == "" || used[k]:
				linked = append(linked, *es(k))
			case linkedHashes[es(k).Hash]:
				// the same entry twice in one batch
			default:
				rest = append(rest, *es(k))
			}
		}
		if len(rest) > 0 {
			if gaps == nil {
				gaps = map[string][]Entry{}
			}
			gaps[a] = rest
		}
	}
	return linked, gaps
}
