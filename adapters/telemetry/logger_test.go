package telemetry

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/domain"
)

// buffer is a goroutine-safe zapcore.WriteSyncer for capturing output.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *buffer) Sync() error { return nil }
func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func logCfg(level, format string) config.Logging {
	l := config.Default().Logging
	l.Level, l.Format = level, format
	return l
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want zapcore.Level
	}{
		{"Trace", zapcore.Level(-2)},
		{"debug", zapcore.DebugLevel},
		{"Information", zapcore.InfoLevel},
		{"", zapcore.InfoLevel},
		{"WARNING", zapcore.WarnLevel},
		{"Error", zapcore.ErrorLevel},
		{"Critical", zapcore.DPanicLevel},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	_, err := ParseLevel("Verbose")
	require.ErrorIs(t, err, domain.ErrConfig)
	assert.Contains(t, err.Error(), "Verbose")
}

// jsonLines decodes every line of JSON log output.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "not JSON: %q", line)
		out = append(out, m)
	}
	return out
}

func TestLoggerLevelsAndFields(t *testing.T) {
	tests := []struct {
		level string
		want  []string // levels of the lines that come out
	}{
		{"Trace", []string{"trace", "debug", "info", "warn", "error", "critical"}},
		{"Debug", []string{"debug", "info", "warn", "error", "critical"}},
		{"Information", []string{"info", "warn", "error", "critical"}},
		{"Warning", []string{"warn", "error", "critical"}},
		{"Critical", []string{"critical"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf buffer
			l, cleanup, err := newLogger(logCfg(tt.level, "json"), false, &buf)
			require.NoError(t, err)
			Trace(l, "t")
			l.Debug("d")
			l.Info("i", zap.String("peer", "n2"))
			l.Warn("w")
			l.Error("e")
			Critical(l, "c") // must not panic
			cleanup()
			var got []string
			for _, m := range jsonLines(t, buf.String()) {
				got = append(got, m["level"].(string))
				if m["msg"] == "i" {
					assert.Equal(t, "n2", m["peer"], "structured fields are kept")
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLoggerFormat(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		isTTY   bool
		console bool
		color   bool
	}{
		{"auto on a terminal", "auto", true, true, true},
		{"auto on a pipe", "auto", false, false, false},
		{"empty is auto", "", false, false, false},
		{"explicit console on a pipe", "console", false, true, false},
		{"explicit json on a terminal", "json", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf buffer
			l, cleanup, err := newLogger(logCfg("Information", tt.format), tt.isTTY, &buf)
			require.NoError(t, err)
			l.Info("hello", zap.Int("n", 1))
			cleanup()
			out := buf.String()
			isJSON := json.Valid([]byte(strings.TrimSpace(out)))
			assert.Equal(t, !tt.console, isJSON, out)
			if tt.console {
				assert.Contains(t, out, "INFO")
				assert.Contains(t, out, `{"n": 1}`)
			}
			assert.Equal(t, tt.color, strings.Contains(out, "\x1b["), out)
		})
	}
	_, _, err := newLogger(logCfg("Information", "xml"), false, &buffer{})
	require.ErrorIs(t, err, domain.ErrConfig)
}

// TestLoggerFileRotation also checks that log files, rotated ones included,
// are 0600 in a directory made 0700, whatever the umask, and that a
// directory the user made keeps its mode.
func TestLoggerFileRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "user")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	cfg := logCfg("Information", "auto")
	cfg.FilePath = filepath.Join(dir, "logs", "node.log") // directory made on demand
	cfg.MaxFileSizeMb = 1
	cfg.MaxFiles = 1
	var stderr buffer
	l, cleanup, err := newLogger(cfg, true, &stderr)
	require.NoError(t, err)
	pad := strings.Repeat("x", 1000)
	for i := 0; i < 2600; i++ { // ~2.7 MB: at least two rotations
		l.Info("line", zap.Int("i", i), zap.String("pad", pad))
	}
	cleanup()
	assert.Empty(t, stderr.String(), "nothing goes to stderr when logging to a file")

	// lumberjack deletes surplus backups in its own goroutine: wait for it.
	deadline := time.Now().Add(5 * time.Second)
	var names []string
	for {
		entries, err := os.ReadDir(filepath.Join(dir, "logs"))
		require.NoError(t, err)
		names = names[:0]
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if len(names) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.Len(t, names, 2, "the current file and MaxFiles=1 backup: %v", names)
	for _, name := range names {
		requireMode(t, filepath.Join(dir, "logs", name), 0o600)
	}
	requireMode(t, filepath.Join(dir, "logs"), 0o700)
	requireMode(t, dir, 0o755)
	data, err := os.ReadFile(cfg.FilePath)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(data), 1<<20)
	lines := jsonLines(t, string(data)) // a file always gets JSON, even with a TTY on stderr
	assert.Equal(t, float64(2599), lines[len(lines)-1]["i"])
}

func TestLoggerUnwritablePath(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, []byte("x"), 0o600))
	cfg := logCfg("Information", "json")
	cfg.FilePath = filepath.Join(blocker, "logs", "node.log") // a regular file where a directory must be
	_, _, err := newLogger(cfg, false, &buffer{})
	require.ErrorIs(t, err, domain.ErrConfig)
	assert.Contains(t, err.Error(), "Logging.FilePath")
	assert.Contains(t, err.Error(), blocker)
}

// requireMode requires path's permission bits to be want.
func requireMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), "mode of %s", path)
}
