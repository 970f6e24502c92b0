package app

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

type recordingComponent struct {
	name     string
	log      *[]string
	startErr error
}

func (c recordingComponent) Name() string { return c.name }
func (c recordingComponent) Start(context.Context) error {
	*c.log = append(*c.log, "start "+c.name)
	return c.startErr
}
func (c recordingComponent) Stop(context.Context) error {
	*c.log = append(*c.log, "stop "+c.name)
	return nil
}

func TestNodeStartsInOrderAndStopsInReverse(t *testing.T) {
	var log []string
	n := NewNode("n1", nil, nil, nil, zap.NewNop(),
		recordingComponent{name: "store", log: &log},
		recordingComponent{name: "listener", log: &log},
		recordingComponent{name: "http", log: &log})
	n.AddCleanup(func() { log = append(log, "cleanup") })
	require.NoError(t, n.Start(context.Background()))
	require.NoError(t, n.Stop(context.Background()))
	require.Equal(t, []string{"start store", "start listener", "start http", "stop http", "stop listener", "stop store", "cleanup"}, log)

	// A second Stop does nothing.
	require.NoError(t, n.Stop(context.Background()))
	require.Len(t, log, 7)
}

func TestNodeStartFailureStopsWhatStarted(t *testing.T) {
	var log []string
	boom := errors.New("port in use")
	n := NewNode("n1", nil, nil, nil, nil,
		recordingComponent{name: "store", log: &log},
		recordingComponent{name: "listener", log: &log, startErr: boom},
		recordingComponent{name: "http", log: &log})
	n.AddCleanup(func() { log = append(log, "cleanup") })
	err := n.Start(context.Background())
	require.ErrorIs(t, err, boom)
	require.Contains(t, err.Error(), "listener")
	require.Equal(t, []string{"start store", "start listener", "stop store", "cleanup"}, log)
}
