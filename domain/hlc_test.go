package domain

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeTime is an injectable physical clock.
type fakeTime struct {
	mu sync.Mutex
	ms int64
}

func (f *fakeTime) now() int64   { f.mu.Lock(); defer f.mu.Unlock(); return f.ms }
func (f *fakeTime) set(ms int64) { f.mu.Lock(); defer f.mu.Unlock(); f.ms = ms }

func TestTimestampCompare(t *testing.T) {
	cases := []struct {
		a, b Timestamp
		want int
	}{
		{Timestamp{1, 0, "a"}, Timestamp{2, 0, "a"}, -1},
		{Timestamp{2, 0, "a"}, Timestamp{1, 9, "z"}, 1},
		{Timestamp{1, 5, "a"}, Timestamp{1, 4, "z"}, 1},
		{Timestamp{1, 5, "a"}, Timestamp{1, 5, "b"}, -1},
		{Timestamp{1, 5, "B"}, Timestamp{1, 5, "a"}, -1}, // byte order
		{Timestamp{1, 5, "a"}, Timestamp{1, 5, "a"}, 0},
		{Timestamp{}, Timestamp{0, 0, "a"}, -1},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, tc.a.Compare(tc.b), "%v vs %v", tc.a, tc.b)
		require.Equal(t, -tc.want, tc.b.Compare(tc.a), "%v vs %v", tc.b, tc.a)
		require.Equal(t, tc.want > 0, tc.a.After(tc.b))
		require.Equal(t, tc.want < 0, tc.a.Before(tc.b))
	}
	require.True(t, Timestamp{}.IsZero())
	require.False(t, Timestamp{Node: "a"}.IsZero())
}

func TestTimestampStringRoundTrip(t *testing.T) {
	for _, ts := range []Timestamp{
		{1795594600000, 0, "node-a"},
		{1, math.MaxInt32, "n"},
		{0, 0, ""},
		{42, 7, "host:5080"},
		{42, 7, "a:b:c:"},
		{42, 7, "ünïcode"},
	} {
		s := ts.String()
		back, err := ParseTimestamp(s)
		require.NoError(t, err, s)
		require.Equal(t, ts, back, s)
	}
	require.Equal(t, "1795594600000:3:host:5080", Timestamp{1795594600000, 3, "host:5080"}.String())
	for _, bad := range []string{"", "1", "1:2", ":1:n", "1::n", "x:1:n", "1:x:n", "-1:0:n", "1:-1:n", "1:2147483648:n", "99999999999999999999:0:n"} {
		_, err := ParseTimestamp(bad)
		require.Error(t, err, bad)
		require.Equal(t, CodeInvalidArgument, CodeOf(err), bad)
	}
}

func TestClockNow(t *testing.T) {
	pt := &fakeTime{ms: 1000}
	c := NewClock("me", pt.now, 0)
	require.Equal(t, "me", c.Node())
	require.Equal(t, Timestamp{1000, 0, "me"}, c.Now())

	// Stuck physical clock: the logical counter carries the order.
	require.Equal(t, Timestamp{1000, 1, "me"}, c.Now())
	require.Equal(t, Timestamp{1000, 2, "me"}, c.Now())

	// Physical clock going backwards: the wall holds, order holds.
	pt.set(500)
	require.Equal(t, Timestamp{1000, 3, "me"}, c.Now())

	// Physical clock advancing: the logical counter resets.
	pt.set(2000)
	require.Equal(t, Timestamp{2000, 0, "me"}, c.Now())
	require.Equal(t, Timestamp{2000, 0, "me"}, c.Last())
}

func TestClockNowStrictlyIncreasing(t *testing.T) {
	pt := &fakeTime{ms: 1000}
	c := NewClock("me", pt.now, 0)
	prev := c.Now()
	for i := range 2000 {
		switch i % 7 { // wander forwards, stall and go back
		case 0:
			pt.set(pt.now() + 3)
		case 3:
			pt.set(pt.now() - 5)
		}
		ts := c.Now()
		require.True(t, ts.After(prev), "%v after %v", ts, prev)
		prev = ts
	}
}

func TestClockNowConcurrentUnique(t *testing.T) {
	pt := &fakeTime{ms: 1000}
	c := NewClock("me", pt.now, 0)
	const workers, each = 4, 500
	results := make([][]Timestamp, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				results[w] = append(results[w], c.Now())
			}
		}()
	}
	wg.Wait()
	seen := map[Timestamp]bool{}
	for _, rs := range results {
		for _, ts := range rs {
			require.False(t, seen[ts], "duplicate %v", ts)
			seen[ts] = true
		}
	}
	require.Len(t, seen, workers*each)
}

func TestClockUpdate(t *testing.T) {
	cases := []struct {
		name     string
		physical int64
		last     Timestamp // restored before the update
		remote   Timestamp
		want     Timestamp
	}{
		{"remote ahead of all", 1000, Timestamp{900, 4, "x"}, Timestamp{1100, 7, "r"}, Timestamp{1100, 8, "me"}},
		{"physical ahead of all", 2000, Timestamp{900, 4, "x"}, Timestamp{1100, 7, "r"}, Timestamp{2000, 0, "me"}},
		{"local ahead of all", 1000, Timestamp{1500, 4, "x"}, Timestamp{1100, 9, "r"}, Timestamp{1500, 5, "me"}},
		{"equal walls, remote logical higher", 1000, Timestamp{1500, 4, "x"}, Timestamp{1500, 9, "r"}, Timestamp{1500, 10, "me"}},
		{"equal walls, local logical higher", 1000, Timestamp{1500, 12, "x"}, Timestamp{1500, 9, "r"}, Timestamp{1500, 13, "me"}},
		{"remote behind physical and local", 3000, Timestamp{3000, 2, "x"}, Timestamp{10, 0, "r"}, Timestamp{3000, 3, "me"}},
		{"all three equal", 1500, Timestamp{1500, 2, "x"}, Timestamp{1500, 2, "r"}, Timestamp{1500, 3, "me"}},
		{"remote logical overflow moves the wall", 1000, Timestamp{}, Timestamp{1200, math.MaxInt32, "r"}, Timestamp{1201, 0, "me"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pt := &fakeTime{ms: tc.physical}
			c := NewClock("me", pt.now, 0)
			c.Restore(tc.last)
			got, err := c.Update(tc.remote)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.want, c.Last())
			require.True(t, c.Now().After(tc.remote), "after an update, new stamps follow the remote one")
		})
	}
}

func TestClockDriftRejected(t *testing.T) {
	pt := &fakeTime{ms: 10_000}
	c := NewClock("me", pt.now, 1000)
	before := c.Now()

	_, err := c.Update(Timestamp{11_001, 0, "r"})
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrClockDrift))
	require.Equal(t, before, c.Last(), "a rejected update leaves the clock as it was")
	require.Equal(t, Timestamp{10_000, 1, "me"}, c.Now())

	require.Equal(t, CodeClockDrift, CodeOf(c.CheckDrift(Timestamp{11_001, 0, "r"})))
	require.NoError(t, c.CheckDrift(Timestamp{11_000, 0, "r"}))

	// Exactly at the limit is accepted.
	got, err := c.Update(Timestamp{11_000, 0, "r"})
	require.NoError(t, err)
	require.Equal(t, Timestamp{11_000, 1, "me"}, got)

	// maxDrift <= 0 disables the check.
	free := NewClock("me", pt.now, 0)
	_, err = free.Update(Timestamp{1 << 50, 0, "r"})
	require.NoError(t, err)
	require.NoError(t, free.CheckDrift(Timestamp{1 << 50, 0, "r"}))
}

func TestClockLogicalOverflow(t *testing.T) {
	pt := &fakeTime{ms: 1000}
	c := NewClock("me", pt.now, 0)
	c.Restore(Timestamp{1000, math.MaxInt32 - 1, "old"})
	require.Equal(t, Timestamp{1000, math.MaxInt32, "me"}, c.Now())
	next := c.Now()
	require.Equal(t, Timestamp{1001, 0, "me"}, next, "overflow moves the wall one millisecond ahead")
	require.Equal(t, Timestamp{1001, 1, "me"}, c.Now())
}

func TestClockRestore(t *testing.T) {
	pt := &fakeTime{ms: 1000}
	c := NewClock("me", pt.now, 0)
	c.Restore(Timestamp{5000, 3, "other"})
	require.Equal(t, Timestamp{5000, 3, "me"}, c.Last(), "restored readings carry our node id")
	require.Equal(t, Timestamp{5000, 4, "me"}, c.Now())

	c.Restore(Timestamp{4000, 99, "me"}) // older wall: ignored
	require.Equal(t, Timestamp{5000, 4, "me"}, c.Last())
	c.Restore(Timestamp{5000, 2, "me"}) // same wall, older logical: ignored
	require.Equal(t, Timestamp{5000, 4, "me"}, c.Last())
	c.Restore(Timestamp{5000, 9, "me"})
	require.Equal(t, Timestamp{5000, 9, "me"}, c.Last())
	c.Restore(Timestamp{})
	require.Equal(t, Timestamp{5000, 9, "me"}, c.Last())
}
