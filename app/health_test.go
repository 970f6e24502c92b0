package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entgldb/entgldb-go/app"
)

// As a node component, the health check runs RunPeriodic every
// CheckInterval between Start and Stop, and Stop waits for it.
func TestHealthCheckComponentChecksUntilStopped(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	core, logs := observer.New(zap.InfoLevel)
	h := app.NewHealthCheck(&fakeDB{pingErr: errors.New("disk gone")}, nil, zap.New(core), app.HealthOptions{
		DatabaseCheckTTL: time.Nanosecond,
		CheckInterval:    time.Millisecond,
	})
	require.NoError(t, h.Start(t.Context()))
	require.Eventually(t, func() bool {
		return logs.FilterMessage("node unhealthy").Len() >= 2
	}, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.Stop(ctx))
	goleak.VerifyNone(t, ignore) // Stop returned after the check loop ended
	require.NoError(t, h.Stop(ctx), "stopping twice is harmless")
}

// An open cluster is a deliberate setting: the node stays healthy, but the
// report says so, with the refused handshakes, for an operator to see.
func TestHealthReportsOpenClusterAndRefusedHandshakes(t *testing.T) {
	state := app.NetworkState{ListenerUp: true, HandshakesRefused: 7}
	h := app.NewHealthCheck(&fakeDB{}, nil, nil, app.HealthOptions{Network: func() app.NetworkState { return state }})
	r := h.Check(t.Context())
	require.True(t, r.IsHealthy)
	require.False(t, r.OpenCluster)
	require.Equal(t, int64(7), r.HandshakesRefused)
	require.Empty(t, r.Warnings)
	require.NotNil(t, r.Warnings, "an empty list, not null, in JSON")

	state.OpenCluster = true
	r = h.Check(t.Context())
	require.True(t, r.IsHealthy)
	require.True(t, r.OpenCluster)
	require.Len(t, r.Warnings, 1)
	require.Contains(t, r.Warnings[0], "open cluster")
}
