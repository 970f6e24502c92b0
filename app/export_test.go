package app

// QueuedWrites is how many Puts wait in db's group-commit queue, for tests
// that must know a write has queued before they let a commit finish.
func QueuedWrites(db *Database) int {
	db.group.mu.Lock()
	defer db.group.mu.Unlock()
	return len(db.group.queue)
}
