package config

import (
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

// Problem is one thing wrong with the configuration: the key as the user
// wrote it (file path, environment variable or flag), the offending value
// rendered as JSON, and what is wrong.
type Problem struct {
	Key    string
	Value  string
	Reason string
}

func (p Problem) String() string {
	if p.Value == "" {
		return p.Key + ": " + p.Reason
	}
	return p.Key + " = " + p.Value + ": " + p.Reason
}

// Problems is every problem found at once. It is the cause inside the
// CONFIG_ERROR that Load and Validate return (reach it with errors.As).
type Problems []Problem

func (ps Problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	noun := "problems"
	if len(ps) == 1 {
		noun = "problem"
	}
	return strconv.Itoa(len(ps)) + " configuration " + noun + ": " + strings.Join(parts, "; ")
}

// asError sorts the problems (map iteration made their order random) and
// wraps them in one CONFIG_ERROR.
func (ps Problems) asError(op string) error {
	sorted := append(Problems(nil), ps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	return &domain.Error{Code: domain.CodeConfig, Op: op, Err: sorted}
}

// Validate checks every value and returns nil or one CONFIG_ERROR listing
// every problem (its cause is a Problems).
func (c Config) Validate() error {
	if ps := c.problems(); len(ps) > 0 {
		return ps.asError("config.Validate")
	}
	return nil
}

func (c Config) problems() Problems {
	var ps Problems
	add := func(key string, value any, reason string) {
		ps = append(ps, Problem{Key: Section + "." + key, Value: show(value), Reason: reason})
	}
	port := func(key string, v int) {
		if v < 0 || v > 65535 {
			add(key, v, "must be a port number from 0 to 65535 (0: any free port)")
		}
	}
	atLeast := func(key string, v, min int) {
		if v < min {
			if min == 0 {
				add(key, v, "must not be negative")
			} else {
				add(key, v, "must be at least "+strconv.Itoa(min))
			}
		}
	}

	if c.NodeId != "" {
		if err := domain.ValidateNodeID(c.NodeId); err != nil {
			add("NodeId", c.NodeId, domain.Message(err))
		}
	}

	n := c.Network
	port("Network.TcpPort", n.TcpPort)
	port("Network.UdpPort", n.UdpPort)
	port("Network.FamilyUdpPort", n.FamilyUdpPort)
	if n.FamilyUdpPort != 0 && len(c.Security.LegacyPeers) == 0 {
		add("Network.FamilyUdpPort", n.FamilyUdpPort, "needs Security.LegacyPeers: the family's beacon is part of that opt-in")
	}
	if n.EnableDiscovery && n.UdpPort == 0 {
		add("Network.UdpPort", n.UdpPort, "must be set when Network.EnableDiscovery is true")
	}
	if n.BindAddress != "" && n.BindAddress != "localhost" && net.ParseIP(n.BindAddress) == nil {
		add("Network.BindAddress", n.BindAddress, "must be an IP address")
	}
	if n.BroadcastAddress != "" {
		if ip := net.ParseIP(n.BroadcastAddress); ip == nil || ip.To4() == nil {
			add("Network.BroadcastAddress", n.BroadcastAddress, "must be an IPv4 address or empty")
		}
	}
	atLeast("Network.RetryAttempts", n.RetryAttempts, 0)
	atLeast("Network.RetryDelayMs", n.RetryDelayMs, 0)
	atLeast("Network.ConnectionTimeoutMs", n.ConnectionTimeoutMs, 1)
	atLeast("Network.MaxConnections", n.MaxConnections, 1)
	atLeast("Network.MaxFrameBytes", n.MaxFrameBytes, 1024)
	if n.MaxResponseBytes < n.MaxFrameBytes {
		add("Network.MaxResponseBytes", n.MaxResponseBytes, "must not be below Network.MaxFrameBytes ("+strconv.Itoa(n.MaxFrameBytes)+")")
	}
	for i, p := range n.StaticPeers {
		if reason := hostPortProblem(p, false); reason != "" {
			add("Network.StaticPeers["+strconv.Itoa(i)+"]", p, reason)
		}
	}

	p := c.Persistence
	if strings.TrimSpace(p.DatabasePath) == "" {
		add("Persistence.DatabasePath", p.DatabasePath, "must not be empty")
	}
	atLeast("Persistence.CacheSizeMb", p.CacheSizeMb, 0)
	atLeast("Persistence.BackupKeep", p.BackupKeep, 0)
	atLeast("Persistence.BackupIntervalMinutes", p.BackupIntervalMinutes, 0)
	if p.EnableAutoBackup {
		if strings.TrimSpace(p.BackupPath) == "" {
			add("Persistence.BackupPath", p.BackupPath, "must not be empty when Persistence.EnableAutoBackup is true")
		}
		if p.BackupIntervalMinutes == 0 {
			add("Persistence.BackupIntervalMinutes", p.BackupIntervalMinutes, "must be at least 1 when Persistence.EnableAutoBackup is true")
		}
		if p.BackupKeep == 0 {
			add("Persistence.BackupKeep", p.BackupKeep, "must be at least 1 when Persistence.EnableAutoBackup is true")
		}
	}
	atLeast("Persistence.MaxDocumentBytes", p.MaxDocumentBytes, 1)
	if p.MaxDocumentBytes > 0 && n.MaxFrameBytes >= 1024 && p.MaxDocumentBytes > n.MaxFrameBytes {
		add("Persistence.MaxDocumentBytes", p.MaxDocumentBytes, "must not exceed Network.MaxFrameBytes ("+strconv.Itoa(n.MaxFrameBytes)+"), or documents could not be synced")
	}

	s := c.Sync
	atLeast("Sync.MaxQueueSize", s.MaxQueueSize, 0)
	if s.EnableOfflineQueue && s.MaxQueueSize == 0 {
		add("Sync.MaxQueueSize", s.MaxQueueSize, "must be at least 1 when Sync.EnableOfflineQueue is true")
	}
	atLeast("Sync.IntervalMs", s.IntervalMs, 1)
	atLeast("Sync.Fanout", s.Fanout, 1)
	atLeast("Sync.BatchSize", s.BatchSize, 1)
	atLeast("Sync.MaxClockDriftMs", s.MaxClockDriftMs, 0)
	switch strings.ToLower(strings.TrimSpace(s.ConflictResolution)) {
	case ConflictLWW, ConflictMerge:
	default:
		add("Sync.ConflictResolution", s.ConflictResolution, "must be lww or merge")
	}

	if c.Http.Enabled || c.Http.Address != "" {
		if reason := hostPortProblem(c.Http.Address, true); reason != "" {
			add("Http.Address", c.Http.Address, reason)
		}
	}
	atLeast("Http.MaxConnections", c.Http.MaxConnections, 0)
	atLeast("Http.MaxChangeFeeds", c.Http.MaxChangeFeeds, 0)
	ps = append(ps, c.httpTLSProblems()...)
	for i, o := range c.Http.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			add("Http.AllowedOrigins["+strconv.Itoa(i)+"]", o, "must be an origin: scheme://host[:port]")
		}
	}
	if key, value, reason := c.keyFilesProblem(); reason != "" {
		add(key, value, reason)
	}

	l := c.Logging
	if _, ok := canonicalLevel(l.Level); !ok {
		add("Logging.Level", l.Level, "must be one of Trace, Debug, Information, Warning, Error, Critical")
	}
	switch strings.ToLower(strings.TrimSpace(l.Format)) {
	case FormatConsole, FormatJSON, FormatAuto:
	default:
		add("Logging.Format", l.Format, "must be console, json or auto")
	}
	atLeast("Logging.MaxFileSizeMb", l.MaxFileSizeMb, 1)
	atLeast("Logging.MaxFiles", l.MaxFiles, 0)

	sec := c.Security
	for i, p := range sec.LegacyPeers {
		if reason := hostPortProblem(p, false); reason != "" {
			add("Security.LegacyPeers["+strconv.Itoa(i)+"]", p, reason)
		}
	}
	if sec.OpenCluster && c.AuthToken != "" {
		add("Security.OpenCluster", sec.OpenCluster, "must be false when AuthToken is set (a cluster with a secret is not open)")
	}
	atLeast("Security.MaxPreAuthPerSource", sec.MaxPreAuthPerSource, 1)
	atLeast("Security.MaxConcurrentSnapshots", sec.MaxConcurrentSnapshots, 1)

	// 0 turns the periodic self check off.
	atLeast("Health.CheckIntervalMinutes", c.Health.CheckIntervalMinutes, 0)

	m := c.Maintenance
	atLeast("Maintenance.IntervalMinutes", m.IntervalMinutes, 1)
	atLeast("Maintenance.OplogRetentionHours", m.OplogRetentionHours, 1)
	atLeast("Maintenance.TombstoneRetentionHours", m.TombstoneRetentionHours, 1)
	// 0: the minute or hour key applies.
	atLeast("Maintenance.IntervalSeconds", m.IntervalSeconds, 0)
	atLeast("Maintenance.OplogRetentionSeconds", m.OplogRetentionSeconds, 0)
	atLeast("Maintenance.TombstoneRetentionSeconds", m.TombstoneRetentionSeconds, 0)
	return ps
}

// hostPortProblem checks "host:port"; the host may be empty (all
// interfaces) only when emptyHostOK. It returns "" when the value is fine.
func hostPortProblem(v string, emptyHostOK bool) string {
	host, portStr, err := net.SplitHostPort(v)
	if err != nil {
		return "must be host:port"
	}
	if host == "" && !emptyHostOK {
		return "must be host:port with a host"
	}
	if strings.ContainsAny(host, " \t/") {
		return "has a malformed host"
	}
	p, err := strconv.Atoi(portStr)
	if emptyHostOK && (err != nil || p < 0 || p > 65535) {
		return "has a bad port (must be 0 to 65535, 0: any free port)"
	}
	if !emptyHostOK && (err != nil || p < 1 || p > 65535) {
		return "has a bad port (must be 1 to 65535)"
	}
	return ""
}

// canonicalLevel maps a level name in any letter case onto the seed's spelling.
func canonicalLevel(s string) (string, bool) {
	for _, lv := range []string{LevelTrace, LevelDebug, LevelInformation, LevelWarning, LevelError, LevelCritical} {
		if strings.EqualFold(strings.TrimSpace(s), lv) {
			return lv, true
		}
	}
	return s, false
}
