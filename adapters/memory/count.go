package memory

import (
	"context"

	"github.com/entgldb/entgldb-go/domain"
)

// CountAuthorEntries implements ports.OplogCounter.
func (s *Store) CountAuthorEntries(ctx context.Context, author string, since domain.Timestamp, seqAfter, seqUpTo int64) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "memory.CountAuthorEntries"); err != nil {
		return 0, err
	}
	n := 0
	for i := range s.log {
		e := &s.log[i]
		if e.Author() == author && e.Seq > seqAfter && e.Seq <= seqUpTo && e.Stamp.After(since) {
			n++
		}
	}
	return n, nil
}
