package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// csharpSample is an appsettings.json as EntglDb.Net 2.x samples write it.
const csharpSample = `{
  "Logging": { "LogLevel": { "Default": "Information", "Microsoft": "Warning" } },
  "AllowedHosts": "*",
  "EntglDb": {
    "NodeId": "node-1",
    "Network": {
      "TcpPort": 5001,
      "UdpPort": 25000,
      "AuthToken": "a-shared-cluster-secret-of-the-mesh",
      "LocalhostOnly": true,
      "ConnectionTimeoutMs": 4000
    },
    "Persistence": { "DatabasePath": "data/node-1.db", "BusyTimeoutMs": 5000 },
    "Sync": { "SyncIntervalMs": 2000, "BatchSize": 100 },
    "Logging": { "LogLevel": "Debug", "LogFilePath": "logs/node-1.log", "MaxLogFileSizeMb": 20, "MaxLogFiles": 3 },
    "KnownPeers": [
      { "NodeId": "node-2", "Host": "192.168.1.20", "Port": 5002 },
      { "NodeId": "node-3", "Host": "fe80::1", "Port": 5003 }
    ]
  }
}`

// A C# node's appsettings.json loads unchanged: its keys are mapped onto
// ours (KnownPeers onto the static peers) or accepted without effect, and
// listed for the start warning.
func TestCSharpAppsettingsAccepted(t *testing.T) {
	c, err := Load(writeFile(t, csharpSample), nil, nil)
	require.NoError(t, err)
	require.Equal(t, "a-shared-cluster-secret-of-the-mesh", c.AuthToken)
	require.Equal(t, "127.0.0.1", c.Network.BindAddress, "LocalhostOnly")
	require.Equal(t, 25000, c.Network.UdpPort)
	require.Equal(t, 4000, c.Network.ConnectionTimeoutMs)
	require.Equal(t, 2000, c.Sync.IntervalMs)
	require.Equal(t, 100, c.Sync.BatchSize)
	require.Equal(t, LevelDebug, c.Logging.Level)
	require.Equal(t, "logs/node-1.log", c.Logging.FilePath)
	require.Equal(t, 20, c.Logging.MaxFileSizeMb)
	require.Equal(t, 3, c.Logging.MaxFiles)
	require.Equal(t, []string{"192.168.1.20:5002", "[fe80::1]:5003"}, c.Network.StaticPeers)
	require.Equal(t, []string{
		"EntglDb.KnownPeers", "EntglDb.Logging.LogFilePath", "EntglDb.Logging.LogLevel", "EntglDb.Logging.MaxLogFileSizeMb",
		"EntglDb.Logging.MaxLogFiles", "EntglDb.Network.AuthToken", "EntglDb.Network.LocalhostOnly",
		"EntglDb.Persistence.BusyTimeoutMs", "EntglDb.Sync.SyncIntervalMs",
	}, c.FamilyKeys)
}

// Our own names win over the C# ones; KnownPeers add to StaticPeers; a
// KnownPeers at the top of the file counts too; bad entries are problems.
func TestCSharpKeysBesideOurs(t *testing.T) {
	c, err := Load(writeFile(t, `{"KnownPeers":[{"Host":"10.0.0.9","Port":5000}],
	  "EntglDb":{"AuthToken":"ours-is-long-enough-to-pass-checks","Network":{"AuthToken":"theirs","LocalhostOnly":true,"BindAddress":"0.0.0.0",
	  "StaticPeers":["10.0.0.1:5000"]},"Sync":{"IntervalMs":700,"SyncIntervalMs":2000}}}`), nil, nil)
	require.NoError(t, err)
	require.Equal(t, "ours-is-long-enough-to-pass-checks", c.AuthToken)
	require.Equal(t, "0.0.0.0", c.Network.BindAddress)
	require.Equal(t, 700, c.Sync.IntervalMs)
	require.Equal(t, []string{"10.0.0.1:5000", "10.0.0.9:5000"}, c.Network.StaticPeers)

	_, err = Load(writeFile(t, `{"EntglDb":{"KnownPeers":[{"Host":"h"}],"Sync":{"SyncIntervalMs":"soon"}}}`), nil, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "EntglDb.KnownPeers[0]")
	require.Contains(t, err.Error(), "SyncIntervalMs")
	require.Contains(t, err.Error(), "must be an integer")
}

func TestMaxResponseBytesNotBelowFrames(t *testing.T) {
	_, err := Load(writeFile(t, `{"EntglDb":{"Network":{"MaxFrameBytes":2048,"MaxResponseBytes":1024}}}`), nil, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "Network.MaxResponseBytes")
}

// The family's discovery port is part of the legacy opt-in.
func TestFamilyUdpPortNeedsLegacyPeers(t *testing.T) {
	_, err := Load(writeFile(t, `{"EntglDb":{"Network":{"FamilyUdpPort":25000}}}`), nil, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "Security.LegacyPeers")
	c, err := Load(writeFile(t, `{"EntglDb":{"Network":{"FamilyUdpPort":25000},"Security":{"LegacyPeers":["10.0.0.2:5000"]}}}`), nil, nil)
	require.NoError(t, err)
	require.Equal(t, 25000, c.Network.FamilyUdpPort)
}
