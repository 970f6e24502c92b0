package app

import (
	"context"
	"slices"

	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// ReplicationStore is what the replication report reads of the store.
type ReplicationStore interface {
	VectorClock(ctx context.Context) (domain.VectorClock, error)
	ports.OplogCounter
}

// Replication builds the replication matrix: for this node and every peer
// whose clock it knows, the newest entry held of each author, and how many
// of the author's entries this node holds beyond it.
func Replication(ctx context.Context, nodeID string, store ReplicationStore, clocks *PeerClocks) (ports.ReplicationReport, error) {
	own, err := store.VectorClock(ctx)
	if err != nil {
		return ports.ReplicationReport{}, err
	}
	last, err := store.LastSeq(ctx)
	if err != nil {
		return ports.ReplicationReport{}, err
	}
	rep := ports.ReplicationReport{NodeID: nodeID}
	authors := map[string]bool{}
	for a := range own {
		authors[a] = true
	}
	self := ports.ReplicaClock{NodeID: nodeID, Self: true, Held: map[string]ports.AuthorHeld{}}
	for a, ts := range own {
		n, err := store.CountAuthorEntries(ctx, a, domain.Timestamp{}, 0, last)
		if err != nil {
			return ports.ReplicationReport{}, err
		}
		self.Held[a] = ports.AuthorHeld{Version: ts.String(), Wall: ts.Wall, Entries: n}
	}
	rep.Replicas = append(rep.Replicas, self)

	var held map[string]domain.VectorClock
	var heard map[string]int64
	if clocks != nil {
		held, heard = clocks.Held()
	}
	peers := make([]string, 0, len(held))
	for p, vc := range held {
		peers = append(peers, p)
		for a := range vc {
			authors[a] = true
		}
	}
	slices.Sort(peers)
	for _, p := range peers {
		row := ports.ReplicaClock{NodeID: p, LastHeard: heard[p], Held: map[string]ports.AuthorHeld{}}
		for a := range authors {
			ts := held[p][a]
			cell := ports.AuthorHeld{}
			if !ts.IsZero() {
				cell.Version, cell.Wall = ts.String(), ts.Wall
			}
			if _, ours := own[a]; ours {
				// What we hold of a beyond what p holds: the entries p lacks.
				if cell.Behind, err = store.CountAuthorEntries(ctx, a, ts, 0, last); err != nil {
					return ports.ReplicationReport{}, err
				}
				cell.Entries = max(0, self.Held[a].Entries-cell.Behind)
			}
			row.Held[a] = cell
		}
		rep.Replicas = append(rep.Replicas, row)
	}
	rep.Authors = make([]string, 0, len(authors))
	for a := range authors {
		rep.Authors = append(rep.Authors, a)
	}
	slices.Sort(rep.Authors)
	return rep, nil
}
