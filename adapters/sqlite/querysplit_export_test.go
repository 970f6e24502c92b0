package sqlite

// SplitScans makes s cut every whole-collection scan into parts, however
// small the collection, so tests hold the split path to the single
// statement's results.
func SplitScans(s *Store, parts int) {
	s.split.mu.Lock()
	defer s.split.mu.Unlock()
	s.split.minRows, s.split.parts = 1, parts
	s.split.cuts = nil
}

// SplitRuns is how many queries of s ran split.
func SplitRuns(s *Store) int64 { return s.split.ran.Load() }
