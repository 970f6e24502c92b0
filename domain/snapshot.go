package domain

// Size is the approximate number of bytes the snapshot costs on the wire
// (counted like Entry.Size), for transfer statistics.
func (s *Snapshot) Size() int64 {
	var n int64
	for i := range s.Documents {
		d := &s.Documents[i]
		n += int64(len(d.Collection) + len(d.Key) + len(d.Data) + len(d.Stamp.Node) + 32)
	}
	for author, head := range s.Heads {
		n += int64(len(author) + len(head))
	}
	for author := range s.VectorClock {
		n += int64(len(author) + 16)
	}
	return n
}
