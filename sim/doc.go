// Package sim is a deterministic simulator of the sync engine: N nodes of
// the real code (app.Database, app.SyncService, app.SyncEngine over
// adapters/memory, or adapters/sqlite for a share of the seeds) on an
// in-memory network (adapters/memnet), with a virtual clock and one seeded
// random source. The same seed gives the same
// run, event for event, which a trace digest proves (TestSimDeterministic).
//
// # Design: no goroutines of our own, virtual time, direct calls
//
// Go cannot make its scheduler deterministic, and testing/synctest fakes
// time but not the order in which runnable goroutines run. So the
// simulator runs nothing concurrently itself and never starts an engine's
// loops. A run is a list of events generated up front from the seed
// (Generate) and executed in order (Run):
//
//   - a client write or delete on one node (Database.Put / Delete), whose
//     committed entry is then gossiped: one message per peer, each lost,
//     delayed or duplicated as the event says;
//   - a tick that moves virtual time forward and delivers the gossip
//     messages now due, in (due time, send order): random delays reorder them;
//   - an anti-entropy round of one node with one peer, the engine's own
//     code (SyncEngine.SyncNow with a discovery that lists that peer only),
//     through a network whose requests may be lost or pushes duplicated;
//   - faults: symmetric partitions, one-way cuts, heal; crash and restart;
//     clock skew forward and backward, within and beyond the drift limit;
//     a disk that refuses writes; a forger pushing invalid entries;
//     maintenance passes with short retentions and long waits (peers
//     forgotten, snapshots needed); an online backup, and a restore from
//     it under a new node id.
//
// The sync code is the real one, run as direct calls under one virtual
// instant: a round does not advance time, and its requests are answered
// synchronously by the peer's SyncService. SyncNow still runs its session
// on a goroutine of the engine's, and a pull prefetches its next page on
// another while it applies the current one; both are waited for before
// SyncNow returns, and the peer's state does not change meanwhile (only
// reads reach it during a pull), so the outcome of a round does not depend
// on how they interleave. What could depend on it, the fault decisions for
// a request, does not: each is a hash of the seed, the event, the request's
// kind and its number among the session's requests of that kind (each kind
// is issued by one goroutine), never a draw from a shared stream.
//
// Gossip is modelled, not run: the engine's gossip loop needs its own
// goroutine and the wall clock. The message a commit sends is exactly what
// the engine would push (the author's entry, proven by the author's own
// SyncService through GetChainRange) and it reaches the peer through the
// network and the peer's real PushChanges.
//
// Time: every node's domain.Clock reads the virtual time plus the node's
// skew (the clock's physical source is injected, as in production). No
// code under test reads the wall clock for anything that reaches the
// stores; the engine reads it for its statistics and timeouts, and for
// when to probe a v4 peer again, which never comes within a short run.
// PeerClocks.SetClock was added so that when peers were last heard from
// is virtual time too.
//
// Durability: a crash drops every in-memory object of the node (database,
// caches, engine, service, clock, identity pins cached in memory). What
// its store keeps depends on Options.Store (store.go): the memory store
// stands for the database file and is kept whole, as SQLite keeps what
// Commit or ApplyRemote returned; the real SQLite store, on a file, is
// killed as kill -9 leaves it (its file and WAL copied as they are on disk,
// no close) and the copy is opened, so its pending documents are replayed
// from the oplog exactly as a restarted node's would be.
//
// # Invariants
//
// During the run: a node never issues a stamp older than one it issued
// before, across restarts; an author never forks its chain; no node holds
// an entry no honest node committed (checked after every event that brings
// remote entries). At quiescence (faults stopped, links healed,
// nodes up, clocks back within drift, in-flight messages delivered, then at
// most ConvergeBound passes of rounds between every pair): every replica
// holds the same documents, vector clock and heads; each acknowledged
// write is there or superseded by a newer acknowledged one (a reference
// last-write-wins model); every author's chain verifies with no fork; no
// entry that no honest node committed is held anywhere.
//
// # Replay
//
// A failure reports its seed and the options derived from it; `go test
// ./sim -run TestSim -seed N` replays it exactly, and Shrink cuts its event
// list to a short one that still fails the same invariant.
package sim
