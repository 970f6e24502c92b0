package ports

import "github.com/entgldb/entgldb-go/domain"

// CacheStats are the document cache's counters.
type CacheStats struct {
	Hits, Misses, Evictions int64
	Entries                 int
	Bytes                   int64
	MaxBytes                int64
}

// HitRate is hits / (hits + misses), 0 when nothing was read.
func (s CacheStats) HitRate() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// DocumentCache holds live documents by (collection, key), bounded in bytes.
type DocumentCache interface {
	Get(collection, key string) (domain.Document, bool)
	Set(doc domain.Document)
	Invalidate(collection, key string)
	Stats() CacheStats
}
