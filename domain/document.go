package domain

// Document is the visible state of one key in one collection.
type Document struct {
	Collection string
	Key        string
	// Data is the JSON text of the document (empty when Deleted).
	Data []byte
	// Stamp is the HLC of the write that produced this state: the version.
	Stamp   Timestamp
	Deleted bool
	// ExpiresAt is when the document expires, in Unix milliseconds (0:
	// never): the ExpiresAt of the entry that wrote it.
	ExpiresAt int64
}

// Version is the user-facing version string of the document.
func (d *Document) Version() string { return d.Stamp.String() }
