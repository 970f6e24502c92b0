package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/domain"
)

// interfaceSample is the appsettings.json of INTERFACE.md, verbatim.
const interfaceSample = `{
  "EntglDb": {
    "NodeId": "",
    "AuthToken": "",
    "Network": {
      "TcpPort": 5000, "UdpPort": 6000, "BindAddress": "0.0.0.0",
      "RetryAttempts": 3, "RetryDelayMs": 1000, "ConnectionTimeoutMs": 5000,
      "Secure": true, "Compression": true,
      "EnableDiscovery": true, "BroadcastAddress": "",
      "StaticPeers": [], "MaxConnections": 100, "MaxFrameBytes": 16777216
    },
    "Persistence": {
      "DatabasePath": "data/entgldb.db", "EnableWalMode": true, "CacheSizeMb": 50,
      "EnableAutoBackup": true, "BackupPath": "backups/",
      "BackupIntervalMinutes": 60, "BackupKeep": 24, "MaxDocumentBytes": 1048576,
      "AutoRestoreOnCorruption": false
    },
    "Sync": {
      "EnableOfflineQueue": true, "MaxQueueSize": 1000,
      "IntervalMs": 2000, "Fanout": 3, "BatchSize": 1000,
      "MaxClockDriftMs": 60000, "ConflictResolution": "lww"
    },
    "Http": { "Enabled": true, "Address": "127.0.0.1:5080" },
    "Logging": { "Level": "Information", "Format": "console", "FilePath": "", "MaxFileSizeMb": 10, "MaxFiles": 5 },
    "Health": { "CheckIntervalMinutes": 5 }
  }
}`

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "appsettings.json")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// problemsOf asserts err is one CONFIG_ERROR and returns its problem list.
func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	require.Error(t, err)
	require.True(t, errors.Is(err, domain.ErrConfig), "want CONFIG_ERROR, got %v", err)
	var ps Problems
	require.True(t, errors.As(err, &ps), "cause is not Problems: %v", err)
	return ps
}

func keysOf(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Key
	}
	return out
}

func TestDefaultIsTheInterfaceSample(t *testing.T) {
	require.NoError(t, Default().Validate())

	fromFile, err := Load(writeFile(t, interfaceSample), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, Default(), fromFile)

	onDefaults, err := Load("", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, Default(), onDefaults)
}

func TestLoadLayers(t *testing.T) {
	file := `{"EntglDb": {"NodeId": "n1", "network": {"tcpPort": 7000, "StaticPeers": ["f:1"]},
	          "Persistence": {"DatabasePath": "/file/db"}},
	          "Logging": {"LogLevel": {"Default": "Warning"}}, "AllowedHosts": "*"}`
	tests := []struct {
		name      string
		file      string
		env       []string
		overrides map[string]any
		check     func(t *testing.T, c Config)
	}{
		{
			name: "file keys are case-insensitive, missing keys default, other sections ignored",
			file: file,
			check: func(t *testing.T, c Config) {
				assert.Equal(t, "n1", c.NodeId)
				assert.Equal(t, 7000, c.Network.TcpPort)
				assert.Equal(t, []string{"f:1"}, c.Network.StaticPeers)
				assert.Equal(t, "/file/db", c.Persistence.DatabasePath)
				assert.Equal(t, 6000, c.Network.UdpPort)
				assert.Equal(t, "127.0.0.1:5080", c.Http.Address)
			},
		},
		{
			name: "environment beats file, names are case-insensitive",
			file: file,
			env: []string{
				"ENTGLDB__NETWORK__TCPPORT=5001",
				"entgldb__persistence__databasepath=/var/lib/entgldb/db",
				"ENTGLDB__NETWORK__STATICPEERS=a:1, b:2",
				"ENTGLDB__NETWORK__SECURE=false",
				"ENTGLDB_NODE=127.0.0.1:9", // the CLI's variable, not a setting
				"PATH=/bin",
			},
			check: func(t *testing.T, c Config) {
				assert.Equal(t, 5001, c.Network.TcpPort)
				assert.Equal(t, "/var/lib/entgldb/db", c.Persistence.DatabasePath)
				assert.Equal(t, []string{"a:1", "b:2"}, c.Network.StaticPeers)
				assert.False(t, c.Network.Secure)
				assert.Equal(t, "n1", c.NodeId)
			},
		},
		{
			name: "indexed list elements and colon separators, as ASP.NET binds them",
			env: []string{
				"ENTGLDB__NETWORK__STATICPEERS__1=b:2",
				"ENTGLDB__NETWORK__STATICPEERS__0=a:1",
				"EntglDb:Sync:ConflictResolution=MERGE",
			},
			check: func(t *testing.T, c Config) {
				assert.Equal(t, []string{"a:1", "b:2"}, c.Network.StaticPeers)
				assert.Equal(t, ConflictMerge, c.Sync.ConflictResolution)
			},
		},
		{
			name: "flags beat environment and file",
			file: file,
			env:  []string{"ENTGLDB__NETWORK__TCPPORT=5001", "ENTGLDB__NODEID=from-env"},
			overrides: map[string]any{
				"Network.TcpPort":          5002,
				"EntglDb.NodeId":           "from-flag",
				"network.staticpeers":      []string{"x:9"},
				"Persistence.DatabasePath": nil, // unset flag: no effect
				"Http.Address":             "127.0.0.1:0",
			},
			check: func(t *testing.T, c Config) {
				assert.Equal(t, 5002, c.Network.TcpPort)
				assert.Equal(t, "from-flag", c.NodeId)
				assert.Equal(t, []string{"x:9"}, c.Network.StaticPeers)
				assert.Equal(t, "/file/db", c.Persistence.DatabasePath)
				assert.Equal(t, "127.0.0.1:0", c.Http.Address)
			},
		},
		{
			name: "enumerations are normalized",
			file: `{"EntglDb": {"Logging": {"Level": "warning", "Format": "JSON"}, "Sync": {"ConflictResolution": "LWW"}}}`,
			check: func(t *testing.T, c Config) {
				assert.Equal(t, LevelWarning, c.Logging.Level)
				assert.Equal(t, FormatJSON, c.Logging.Format)
				assert.Equal(t, ConflictLWW, c.Sync.ConflictResolution)
			},
		},
		{
			name: "null keeps the default",
			file: `{"EntglDb": {"Network": {"TcpPort": null}, "Http": null}}`,
			check: func(t *testing.T, c Config) {
				assert.Equal(t, Default(), c)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := Load(path, tt.env, tt.overrides)
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		env       []string
		overrides map[string]any
		want      []string // problem keys, sorted
		wantText  []string // substrings of the error message
	}{
		{
			name:     "unknown keys in file and environment",
			file:     `{"EntglDb": {"Network": {"TcpPrt": 1}, "Bogus": true}}`,
			env:      []string{"ENTGLDB__NETWORK__NOPE=1"},
			want:     []string{"ENTGLDB__NETWORK__NOPE", "EntglDb.Bogus", "EntglDb.Network.TcpPrt"},
			wantText: []string{"EntglDb.Network.TcpPrt = 1: unknown key", "ENTGLDB__NETWORK__NOPE = \"1\": unknown key"},
		},
		{
			name: "values of the wrong type",
			file: `{"EntglDb": {"Network": {"TcpPort": "abc", "Secure": "yes", "UdpPort": 1.5, "StaticPeers": [1]}, "Http": 3}}`,
			want: []string{"EntglDb.Http", "EntglDb.Network.Secure", "EntglDb.Network.StaticPeers", "EntglDb.Network.TcpPort", "EntglDb.Network.UdpPort"},
			wantText: []string{`EntglDb.Network.TcpPort = "abc": must be an integer`, "must be true or false",
				"EntglDb.Http = 3: must be a JSON object"},
		},
		{
			name:     "bad environment values",
			env:      []string{"ENTGLDB__NETWORK__TCPPORT=five", "ENTGLDB__NETWORK=x"},
			want:     []string{"ENTGLDB__NETWORK", "ENTGLDB__NETWORK__TCPPORT"},
			wantText: []string{`ENTGLDB__NETWORK__TCPPORT = "five": must be an integer`},
		},
		{
			name:      "bad flags",
			overrides: map[string]any{"Network.TcpPort": "x", "Nope": 1},
			want:      []string{"Network.TcpPort", "Nope"},
		},
		{
			name: "validation after merging, together with load problems",
			file: `{"EntglDb": {"Network": {"TcpPort": 70000, "StaticPeers": ["ok:1", "nocolon", ":5", "h:0"]},
			        "Sync": {"ConflictResolution": "newest"}, "Extra": 1}}`,
			env: []string{"ENTGLDB__PERSISTENCE__CACHESIZEMB=-1"},
			want: []string{"EntglDb.Extra", "EntglDb.Network.StaticPeers[1]", "EntglDb.Network.StaticPeers[2]",
				"EntglDb.Network.StaticPeers[3]", "EntglDb.Network.TcpPort", "EntglDb.Persistence.CacheSizeMb",
				"EntglDb.Sync.ConflictResolution"},
			wantText: []string{"EntglDb.Network.TcpPort = 70000", `"newest": must be lww or merge`, `"nocolon": must be host:port`,
				"EntglDb.Persistence.CacheSizeMb = -1: must not be negative", "7 configuration problems"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			_, err := Load(path, tt.env, tt.overrides)
			ps := problemsOf(t, err)
			assert.Equal(t, tt.want, keysOf(ps))
			for _, s := range tt.wantText {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestLoadKeyGivenTwice(t *testing.T) {
	_, err := Load(writeFile(t, `{"EntglDb": {"NodeId": "a", "nodeid": "b"}}`), nil, nil)
	ps := problemsOf(t, err)
	require.Len(t, ps, 1)
	assert.Contains(t, ps[0].Reason, "given twice")
}

func TestOverrideKeysAreCanonical(t *testing.T) {
	c, err := Load("", nil, map[string]any{
		KeyNodeId: "n", KeyDatabasePath: "/db", KeyTcpPort: 1, KeyUdpPort: 2,
		KeyStaticPeers: []string{"h:3"}, KeyHttpAddress: "127.0.0.1:4",
	})
	require.NoError(t, err)
	assert.Equal(t, "n", c.NodeId)
	assert.Equal(t, "/db", c.Persistence.DatabasePath)
	assert.Equal(t, 1, c.Network.TcpPort)
	assert.Equal(t, 2, c.Network.UdpPort)
	assert.Equal(t, []string{"h:3"}, c.Network.StaticPeers)
	assert.Equal(t, "127.0.0.1:4", c.Http.Address)
}

func TestLoadFileErrors(t *testing.T) {
	t.Run("missing explicit file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.json"), nil, nil)
		require.ErrorIs(t, err, domain.ErrConfig)
		assert.Contains(t, err.Error(), "nope.json")
	})
	t.Run("malformed JSON names the position", func(t *testing.T) {
		_, err := Load(writeFile(t, "{\n  \"EntglDb\": {\n    \"NodeId\": \"a\",,\n  }\n}"), nil, nil)
		require.ErrorIs(t, err, domain.ErrConfig)
		assert.Contains(t, err.Error(), "line 3, column 19")
	})
	t.Run("top level not an object", func(t *testing.T) {
		_, err := Load(writeFile(t, `[1,2]`), nil, nil)
		require.ErrorIs(t, err, domain.ErrConfig)
		assert.Contains(t, err.Error(), "must hold a JSON object")
	})
	t.Run("EntglDb not an object", func(t *testing.T) {
		_, err := Load(writeFile(t, `{"entgldb": "x"}`), nil, nil)
		assert.Equal(t, []string{"entgldb"}, keysOf(problemsOf(t, err)))
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // problem keys; nil means valid
	}{
		{"defaults", func(c *Config) {}, nil},
		{"port zero means any free port", func(c *Config) { c.Network.TcpPort = 0; c.Http.Address = "127.0.0.1:0" }, nil},
		{"ports out of range", func(c *Config) { c.Network.TcpPort = -1; c.Network.UdpPort = 65536 },
			[]string{"EntglDb.Network.TcpPort", "EntglDb.Network.UdpPort"}},
		{"discovery needs a UDP port", func(c *Config) { c.Network.UdpPort = 0 }, []string{"EntglDb.Network.UdpPort"}},
		{"negative sizes", func(c *Config) {
			c.Persistence.CacheSizeMb = -1
			c.Sync.MaxQueueSize = -5
			c.Network.RetryAttempts = -1
			c.Logging.MaxFiles = -1
			c.Health.CheckIntervalMinutes = -1
		}, []string{"EntglDb.Health.CheckIntervalMinutes", "EntglDb.Logging.MaxFiles", "EntglDb.Network.RetryAttempts",
			"EntglDb.Persistence.CacheSizeMb", "EntglDb.Sync.MaxQueueSize"}},
		{"zero where at least one is needed", func(c *Config) {
			c.Sync.Fanout = 0
			c.Sync.BatchSize = 0
			c.Sync.IntervalMs = 0
			c.Network.ConnectionTimeoutMs = 0
			c.Logging.MaxFileSizeMb = 0
		}, []string{"EntglDb.Logging.MaxFileSizeMb", "EntglDb.Network.ConnectionTimeoutMs", "EntglDb.Sync.BatchSize",
			"EntglDb.Sync.Fanout", "EntglDb.Sync.IntervalMs"}},
		{"maintenance", func(c *Config) {
			c.Maintenance.IntervalMinutes = 0
			c.Maintenance.OplogRetentionHours = -1
			c.Maintenance.TombstoneRetentionSeconds = -1
		}, []string{"EntglDb.Maintenance.IntervalMinutes", "EntglDb.Maintenance.OplogRetentionHours",
			"EntglDb.Maintenance.TombstoneRetentionSeconds"}},
		{"auto backup needs a path", func(c *Config) { c.Persistence.BackupPath = " " }, []string{"EntglDb.Persistence.BackupPath"}},
		{"no auto backup, no path needed", func(c *Config) { c.Persistence.EnableAutoBackup = false; c.Persistence.BackupPath = "" }, nil},
		{"document larger than a frame", func(c *Config) { c.Persistence.MaxDocumentBytes = c.Network.MaxFrameBytes + 1 },
			[]string{"EntglDb.Persistence.MaxDocumentBytes"}},
		{"unknown conflict resolution", func(c *Config) { c.Sync.ConflictResolution = "newest" }, []string{"EntglDb.Sync.ConflictResolution"}},
		{"static peers", func(c *Config) { c.Network.StaticPeers = []string{"a:1", "[::1]:2", "b", "c:x", "d:99999"} },
			[]string{"EntglDb.Network.StaticPeers[2]", "EntglDb.Network.StaticPeers[3]", "EntglDb.Network.StaticPeers[4]"}},
		{"log level and format", func(c *Config) { c.Logging.Level = "Verbose"; c.Logging.Format = "xml" },
			[]string{"EntglDb.Logging.Format", "EntglDb.Logging.Level"}},
		{"http address", func(c *Config) { c.Http.Address = "localhost" }, []string{"EntglDb.Http.Address"}},
		{"node id longer than any peer accepts", func(c *Config) { c.NodeId = strings.Repeat("n", 129) }, []string{"EntglDb.NodeId"}},
		{"node id not UTF-8", func(c *Config) { c.NodeId = "node-\xff" }, []string{"EntglDb.NodeId"}},
		{"security", func(c *Config) {
			c.Security.LegacyPeers = []string{"csharp:5000", "nope"}
			c.Security.OpenCluster = true
			c.AuthToken = "secret"
			c.Security.MaxPreAuthPerSource = 0
			c.Security.MaxConcurrentSnapshots = 0
		}, []string{"EntglDb.Security.LegacyPeers[1]", "EntglDb.Security.MaxConcurrentSnapshots",
			"EntglDb.Security.MaxPreAuthPerSource", "EntglDb.Security.OpenCluster"}},
		{"plain http on all interfaces is refused", func(c *Config) { c.Http.Address = ":5080" }, []string{"EntglDb.Http.Address"}},
		{"plain http on a LAN name is refused", func(c *Config) { c.Http.Address = "db.lan:5080" }, []string{"EntglDb.Http.Address"}},
		{"plain http on all interfaces with the insecure opt-in", func(c *Config) { c.Http.Address = "0.0.0.0:5080"; c.Http.AllowInsecure = true }, nil},
		{"https on all interfaces", func(c *Config) { c.Http.Address = ":5080"; c.Http.TLSAuto = true }, nil},
		{"https with certificate files", func(c *Config) {
			c.Http.Address = "[::]:5080"
			c.Http.TLSCertFile, c.Http.TLSKeyFile = "c.pem", "k.pem"
		}, nil},
		{"plain http on loopback names", func(c *Config) { c.Http.Address = "localhost:5080" }, nil},
		{"plain http on another loopback address", func(c *Config) { c.Http.Address = "127.0.0.2:5080" }, nil},
		{"plain http when the api is off", func(c *Config) { c.Http.Enabled = false; c.Http.Address = "0.0.0.0:5080" }, nil},
		{"tls certificate without key, and both kinds of certificate", func(c *Config) {
			c.Http.TLSCertFile = "c.pem"
			c.Http.TLSAuto = true
		}, []string{"EntglDb.Http.TLSAuto", "EntglDb.Http.TLSKeyFile"}},
		{"http disabled and empty", func(c *Config) { c.Http.Enabled = false; c.Http.Address = "" }, nil},
		{"addresses", func(c *Config) { c.Network.BindAddress = "not an ip"; c.Network.BroadcastAddress = "::1" },
			[]string{"EntglDb.Network.BindAddress", "EntglDb.Network.BroadcastAddress"}},
		{"empty database path", func(c *Config) { c.Persistence.DatabasePath = "" }, []string{"EntglDb.Persistence.DatabasePath"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tt.want, keysOf(problemsOf(t, err)))
			assert.Equal(t, domain.CodeConfig, domain.CodeOf(err))
		})
	}
}

func TestAuthTokenNeverShown(t *testing.T) {
	c := Default()
	c.AuthToken = "s3cr3t-cluster-key"
	c.Network.StaticPeers = []string{"a:1"}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprint(c.Redacted().AuthToken)} {
		assert.NotContains(t, s, "s3cr3t")
	}
	assert.Contains(t, c.String(), redactedToken)
	assert.Contains(t, c.String(), `"TcpPort":5000`)

	r := c.Redacted()
	r.Network.StaticPeers[0] = "changed"
	assert.Equal(t, "a:1", c.Network.StaticPeers[0], "Redacted must not alias the original")
	assert.Equal(t, "s3cr3t-cluster-key", c.AuthToken)

	// A token given through the environment is loaded but never echoed in errors.
	_, err := Load("", []string{"ENTGLDB__AUTHTOKEN=s3cr3t", "ENTGLDB__NETWORK__TCPPORT=-3"}, nil)
	require.Error(t, err)
	assert.False(t, strings.Contains(err.Error(), "s3cr3t"))
}

func TestFindFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	assert.Equal(t, "", FindFile(""))
	assert.Equal(t, "x.json", FindFile("x.json"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, DefaultFile), []byte("{}"), 0o600))
	assert.Equal(t, DefaultFile, FindFile(""))
}

func TestMaintenanceDurations(t *testing.T) {
	m := Default().Maintenance
	require.Equal(t, domain.DefaultMaintenanceInterval, m.Interval())
	require.Equal(t, 24*time.Hour, m.OplogRetention(), "the C# sibling's OplogRetentionHours")
	require.Equal(t, domain.DefaultTombstoneRetention, m.TombstoneRetention())
	m.IntervalSeconds, m.OplogRetentionSeconds, m.TombstoneRetentionSeconds = 2, 3, 4
	require.Equal(t, 2*time.Second, m.Interval(), "seconds replace minutes")
	require.Equal(t, 3*time.Second, m.OplogRetention())
	require.Equal(t, 4*time.Second, m.TombstoneRetention())
}
