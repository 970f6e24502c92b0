package app

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

type fakeStamps struct {
	newest domain.Timestamp
	vc     domain.VectorClock
}

func (f fakeStamps) NewestStamp(context.Context) (domain.Timestamp, error) { return f.newest, nil }
func (f fakeStamps) VectorClock(context.Context) (domain.VectorClock, error) {
	return f.vc, nil
}

// The clock starts after the later of the oplog's newest stamp and the
// vector clock's maximum, whichever holds it.
func TestRestoreClockTakesTheLaterSource(t *testing.T) {
	oplog := domain.Timestamp{Wall: 100, Logical: 1, Node: "me"}
	snapshot := domain.Timestamp{Wall: 200, Node: "peer"}
	cases := map[string]struct {
		src  fakeStamps
		want domain.Timestamp
	}{
		"oplog newer":    {fakeStamps{newest: oplog, vc: domain.VectorClock{"peer": {Wall: 50, Node: "peer"}}}, oplog},
		"snapshot newer": {fakeStamps{newest: oplog, vc: domain.VectorClock{"peer": snapshot}}, snapshot},
		"empty oplog":    {fakeStamps{vc: domain.VectorClock{"peer": snapshot}}, snapshot},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			clock := domain.NewClock("me", func() int64 { return 1 }, 0)
			require.NoError(t, restoreClock(t.Context(), tc.src, clock))
			want := tc.want
			last := clock.Last()
			assert.Equal(t, want.Wall, last.Wall)
			assert.Equal(t, want.Logical, last.Logical)
			assert.True(t, clock.Now().After(want), "the next stamp is newer than every stored one")
		})
	}
}
