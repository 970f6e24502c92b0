package app

import (
	"context"
	"errors"
	"sort"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// chainState reads our vector clock and chain heads.
func chainState(ctx context.Context, store ports.OplogReader) (domain.VectorClock, map[string]string, error) {
	vc, err := store.VectorClock(ctx)
	if err != nil {
		return nil, nil, err
	}
	heads, err := store.Heads(ctx)
	if err != nil {
		return nil, nil, err
	}
	if vc == nil {
		vc = domain.VectorClock{}
	}
	if heads == nil {
		heads = map[string]string{}
	}
	return vc, heads, nil
}

// gapErr says an author's chain could not be completed from this peer.
type gapErr struct{ author string }

func (g gapErr) Error() string {
	if g.author == "" {
		return "entries refused on arrival leave a gap this peer cannot fill"
	}
	return "hash chain of " + g.author + " has a gap this peer cannot fill"
}

func gapError(author string) error {
	return &domain.Error{Code: domain.CodeSync, Op: "sync.chain", Err: gapErr{author}}
}

func isGap(err error) bool {
	var g gapErr
	return errors.As(err, &g)
}

func sortedKeys(m map[string][]domain.Entry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
