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
