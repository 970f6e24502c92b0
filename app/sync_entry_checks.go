package app

import (
	"github.com/entgldb/entgldb-go/domain"
)

// rejection is one refused entry.
type rejection struct {
	author string
	err    error
}

// validateEntries checks each entry on its own: an author, a stamp not too
// far ahead of our clock, and a hash matching the entry's contents (an
// entry without a hash comes from a v4 node and is taken unchained).
// Unknown operations and invalid JSON were refused by the protocol layer.
func validateEntries(clock *domain.Clock, entries []domain.Entry) ([]domain.Entry, []rejection) {
	var rejected []rejection
	var valid []domain.Entry // built from the first rejection on
	for i := range entries {
		en := &entries[i]
		var err error
		switch {
		case en.Stamp.Node == "":
			err = domain.Errorf(domain.CodeSync, "sync.validate", "entry %s/%s has no author", en.Collection, en.Key)
		case en.Hash != "" && !en.VerifyHash():
			err = domain.Errorf(domain.CodeSync, "sync.validate",
				"entry %s/%s by %s: hash does not match its contents", en.Collection, en.Key, en.Stamp.Node)
		default:
			if derr := clock.CheckDrift(en.Stamp); derr != nil {
				// SYNC_ERROR outside, CLOCK_DRIFT within (errors.Is sees both).
				err = &domain.Error{Code: domain.CodeSync, Op: "sync.validate",
					Msg: "entry " + en.Collection + "/" + en.Key + " refused", Err: derr}
			}
		}
		if err != nil {
			if rejected == nil {
				valid = append(make([]domain.Entry, 0, len(entries)-1), entries[:i]...)
			}
			rejected = append(rejected, rejection{author: en.Stamp.Node, err: err})
			continue
		}
		if rejected != nil {
			valid = append(valid, *en)
		}
	}
	if len(rejected) == 0 {
		return entries, nil
	}
	return valid, rejected
}
