package app

import (
	"strconv"

	"github.com/entgldb/entgldb-go/domain"
)

// rejection is one refused entry.
type rejection struct {
	author string
	err    error
}

// validateEntries checks each entry on its own: the validation a local
// write passes (names, author, document: domain.ValidateEntry, with the
// configured document limit), a hash matching the entry's contents (an
// entry without a hash comes from a v4 node and is taken unchained) and a
// stamp not too far ahead of our clock. Unknown operations were refused by
// the protocol layer.
func validateEntries(clock *domain.Clock, limits domain.EntryLimits, entries []domain.Entry) ([]domain.Entry, []rejection) {
	var rejected []rejection
	var valid []domain.Entry // built from the first rejection on
	for i := range entries {
		en := &entries[i]
		var err error
		if verr := domain.ValidateEntry(en, limits); verr != nil {
			err = refusal(en, verr)
		} else if en.Hash != "" && !en.VerifyHash() {
			err = domain.Errorf(domain.CodeSync, "sync.validate", "entry %s: hash does not match its contents", entryRef(en))
		} else if derr := clock.CheckDrift(en.Stamp); derr != nil {
			err = refusal(en, derr)
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

// refusal wraps why an entry was refused: SYNC_ERROR outside, the cause's
// code (INVALID_ARGUMENT, TOO_LARGE, CLOCK_DRIFT) within; errors.Is sees
// both.
func refusal(en *domain.Entry, cause error) error {
	return &domain.Error{Code: domain.CodeSync, Op: "sync.validate", Msg: "entry " + entryRef(en) + " refused", Err: cause}
}

// entryRef names an entry in a message: collection/key by author, each
// cut short, since a refused entry's names may be megabytes long.
func entryRef(en *domain.Entry) string {
	return clipName(en.Collection) + "/" + clipName(en.Key) + " by " + clipName(en.Stamp.Node)
}

// clipName quotes s (escaping invalid UTF-8), cut to a readable length.
func clipName(s string) string {
	const keep = 48
	if len(s) <= keep {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:keep]) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
