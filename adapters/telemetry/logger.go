// Package telemetry builds the node's zap logger and its Prometheus
// registry and metrics.
package telemetry

import (
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/domain"
)

// The seed's levels that zap lacks. Trace sits below Debug (cache hits and
// other per-operation chatter); Critical is zap's DPanic level, which only
// panics in development loggers, and NewLogger never builds one.
const (
	TraceLevel    = zapcore.DebugLevel - 1
	CriticalLevel = zapcore.DPanicLevel
)

// ParseLevel maps Logging.Level (Trace, Debug, Information, Warning, Error,
// Critical; any letter case) onto a zap level.
func ParseLevel(name string) (zapcore.Level, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "trace":
		return TraceLevel, nil
	case "debug":
		return zapcore.DebugLevel, nil
	case "information", "":
		return zapcore.InfoLevel, nil
	case "warning":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	case "critical":
		return CriticalLevel, nil
	}
	return 0, domain.Errorf(domain.CodeConfig, "telemetry.ParseLevel",
		"Logging.Level %q must be one of Trace, Debug, Information, Warning, Error, Critical", name)
}

// Trace logs at TraceLevel; zap has no method for a custom level.
func Trace(l *zap.Logger, msg string, fields ...zap.Field) {
	if ce := l.Check(TraceLevel, msg); ce != nil {
		ce.Write(fields...)
	}
}

// Critical logs at CriticalLevel (without panicking).
func Critical(l *zap.Logger, msg string, fields ...zap.Field) {
	if ce := l.Check(CriticalLevel, msg); ce != nil {
		ce.Write(fields...)
	}
}

// NewLogger builds the node's logger from the Logging settings. Output goes
// to stderr, or to Logging.FilePath rotated by size with lumberjack
// (MaxFileSizeMb per file, MaxFiles old files kept; 0 keeps all, as
// lumberjack does). Format "console" or "json" is used as given; "auto" (or
// empty) picks console on a terminal and JSON otherwise, and always JSON
// for a file. A log file that cannot be created is a CONFIG_ERROR now
// rather than lost logs later. The cleanup func flushes and closes.
func NewLogger(cfg config.Logging, isTTY bool) (*zap.Logger, func(), error) {
	return newLogger(cfg, isTTY, zapcore.Lock(os.Stderr))
}

func newLogger(cfg config.Logging, isTTY bool, stderr zapcore.WriteSyncer) (*zap.Logger, func(), error) {
	const op = "telemetry.NewLogger"
	level, err := ParseLevel(cfg.Level)
	if err != nil {
		return nil, nil, err
	}

	sink := stderr
	closeSink := func() {}
	toFile := cfg.FilePath != ""
	if toFile {
		if err := checkWritable(cfg.FilePath); err != nil {
			return nil, nil, domain.Errorf(domain.CodeConfig, op, "Logging.FilePath %q cannot be written: %w", cfg.FilePath, err)
		}
		lj := &lumberjack.Logger{
			Filename:   cfg.FilePath,
			MaxSize:    max(cfg.MaxFileSizeMb, 1),
			MaxBackups: max(cfg.MaxFiles, 0),
		}
		sink = zapcore.AddSync(lj)
		closeSink = func() { _ = lj.Close() }
	}

	var console bool
	switch strings.ToLower(strings.TrimSpace(cfg.Format)) {
	case config.FormatConsole:
		console = true
	case config.FormatJSON:
		console = false
	case config.FormatAuto, "":
		console = isTTY && !toFile
	default:
		return nil, nil, domain.Errorf(domain.CodeConfig, op, "Logging.Format %q must be console, json or auto", cfg.Format)
	}

	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.EncodeDuration = zapcore.StringDurationEncoder
	var encoder zapcore.Encoder
	if console {
		enc.EncodeLevel = levelEncoder(true, isTTY && !toFile)
		encoder = zapcore.NewConsoleEncoder(enc)
	} else {
		enc.EncodeLevel = levelEncoder(false, false)
		encoder = zapcore.NewJSONEncoder(enc)
	}

	core := zapcore.NewCore(encoder, sink, zap.NewAtomicLevelAt(level))
	logger := zap.New(core, zap.AddCaller(), zap.ErrorOutput(stderr))
	cleanup := func() {
		_ = logger.Sync() // stderr may refuse fsync (EINVAL on a pipe); nothing to do about it
		closeSink()
	}
	return logger, cleanup, nil
}

// checkWritable creates the log directory and opens the file for append,
// so a bad path fails at start. Logs describe the data and the peers, so a
// directory it makes is 0700 and a file it makes 0600; lumberjack gives
// rotated files the mode of the one they replace. Existing ones keep theirs.
func checkWritable(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// levelEncoder names levels as the seed does, lower case in JSON, upper case
// (coloured on a terminal) in the console format.
func levelEncoder(upper, color bool) zapcore.LevelEncoder {
	return func(l zapcore.Level, pae zapcore.PrimitiveArrayEncoder) {
		name, code := "", ""
		switch {
		case l <= TraceLevel:
			name, code = "trace", "\x1b[90m"
		case l == zapcore.DebugLevel:
			name, code = "debug", "\x1b[35m"
		case l == zapcore.InfoLevel:
			name, code = "info", "\x1b[34m"
		case l == zapcore.WarnLevel:
			name, code = "warn", "\x1b[33m"
		case l == zapcore.ErrorLevel:
			name, code = "error", "\x1b[31m"
		default:
			name, code = "critical", "\x1b[1;31m"
		}
		if upper {
			name = strings.ToUpper(name)
		}
		if color {
			name = code + name + "\x1b[0m"
		}
		pae.AppendString(name)
	}
}
