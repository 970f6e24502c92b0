package main

import "bytes"

// secretScanner looks for any of its needles in a byte stream that arrives
// in chunks, including a needle cut across two chunks, keeping only the
// last few bytes between writes (a relay must not hold a whole session).
type secretScanner struct {
	needles [][]byte
	keep    int // longest needle - 1
	tail    []byte
	hits    int
}

func newSecretScanner(needles ...[]byte) *secretScanner {
	s := &secretScanner{}
	for _, n := range needles {
		if len(n) == 0 {
			continue
		}
		s.needles = append(s.needles, n)
		s.keep = max(s.keep, len(n)-1)
	}
	return s
}

// Write scans p (after the tail of the previous writes) and never fails.
func (s *secretScanner) Write(p []byte) (int, error) {
	buf := append(s.tail, p...)
	for _, n := range s.needles {
		// Only matches ending inside p are new: the tail alone was scanned.
		from := max(0, len(s.tail)-len(n)+1)
		s.hits += bytes.Count(buf[from:], n)
	}
	if len(buf) > s.keep {
		buf = buf[len(buf)-s.keep:]
	}
	s.tail = append(s.tail[:0], buf...)
	return len(p), nil
}
