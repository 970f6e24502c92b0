// Package nodeproc is the process harness of the black-box tests, the soak
// and the benchmark: it builds the entgldb binary, writes an
// appsettings.json per node, starts `entgldb serve`, waits for /readyz,
// hands out a client of the node's HTTP API (sending the admin key the node
// made), stops or kills the process by its PID, and isolates a node from
// its peers and heals it (the partition scenario). Every address it uses
// is 127.0.0.1.
package nodeproc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/client"
)

// ModuleRoot is the directory of the entgldb-go go.mod.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the entgldb-go module")
	}
	return filepath.Dir(mod), nil
}

// Build compiles ./cmd/entgldb into out.
func Build(ctx context.Context, out string) error { return BuildTagged(ctx, out) }

// BuildTagged compiles ./cmd/entgldb into out with build tags (noui: no
// dashboard).
func BuildTagged(ctx context.Context, out string, tags ...string) error {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/entgldb")...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/entgldb: %w\n%s", err, stderr.String())
	}
	return nil
}

// BuildTemp compiles ./cmd/entgldb into a new temporary directory (within
// 10 minutes) and returns the binary's path and what removes it: the
// TestMain of a package of black-box tests.
func BuildTemp() (bin string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "entgldb-bin")
	if err != nil {
		return "", nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin = filepath.Join(dir, "entgldb")
	if err := Build(ctx, bin); err != nil {
		remove()
		return "", nil, err
	}
	return bin, remove, nil
}

// handedOut is every port FreePort returned in this process: the kernel
// hands a just-closed ephemeral port out again, and a node given the same
// port twice (HTTP and sync) fails to start.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// FreePort returns a loopback TCP port that was free a moment ago and that
// it never returned before.
func FreePort() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port, nil
		}
	}
	return 0, errors.New("free port: the kernel kept offering ports already handed out")
}

// Spec describes one node.
type Spec struct {
	Dir       string // the node's own directory (config, data, backups, log)
	NodeID    string
	AuthToken string
	Secure    bool
	// SyncIntervalMs is Sync.IntervalMs (0: 500).
	SyncIntervalMs int
	// RetryDelayMs is Network.RetryDelayMs (0: 100).
	RetryDelayMs int
	// ConnectionTimeoutMs is Network.ConnectionTimeoutMs (0: 2000).
	ConnectionTimeoutMs int
	// LogLevel is Logging.Level (empty: Information).
	LogLevel string
	// OnDefaults runs `entgldb serve` with no configuration file, as on a
	// fresh machine: the node's defaults choose its ports and paths (HTTP
	// on client.DefaultAddr, the database under Dir/data).
	OnDefaults bool
	// Env is added to the process's environment (KEY=value).
	Env []string
}

// Proc is one node process (running or not). It is not safe for concurrent
// Start/Stop/Kill; HTTP calls may run concurrently.
type Proc struct {
	Bin      string
	Spec     Spec
	Config   string // path of appsettings.json
	HTTPAddr string // 127.0.0.1:port
	TCPPort  int
	UDPPort  int
	DBPath   string
	LogPath  string

	peers    []string
	adminKey string // the node's API admin key, read once it is ready
	cmd      *exec.Cmd
	done     chan error // receives the Wait result once; re-sent for later readers
	logf     *os.File
	client   *client.Client

	// While isolated: the sync port and peers Heal restores.
	realTCPPort int
	realPeers   []string
}

// New allocates loopback ports for a node; SetPeers then WriteConfig (or
// Start, which writes it) finish the set-up.
func New(bin string, spec Spec) (*Proc, error) {
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("node dir: %w", err)
	}
	ports := make([]int, 3)
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	p := &Proc{
		Bin: bin, Spec: spec,
		Config:   filepath.Join(spec.Dir, "appsettings.json"),
		HTTPAddr: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		TCPPort:  ports[1], UDPPort: ports[2],
		DBPath:  filepath.Join(spec.Dir, "data", "entgldb.db"),
		LogPath: filepath.Join(spec.Dir, "node.log"),
	}
	if spec.OnDefaults {
		p.Config, p.HTTPAddr, p.TCPPort, p.UDPPort = "", client.DefaultAddr, 0, 0
	}
	p.setClient()
	return p, nil
}

func (p *Proc) setClient() {
	p.client = client.New(p.HTTPAddr, client.WithHTTPClient(&http.Client{
		Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}), client.WithKey(p.adminKey))
}

// AdminKeyPath is where the node keeps its API admin key (the default:
// beside its database).
func (p *Proc) AdminKeyPath() string {
	return filepath.Join(filepath.Dir(p.DBPath), config.DefaultAdminKeyFileName)
}

// AdminKey is the node's API admin key ("" before its first start): the
// harness's client sends it.
func (p *Proc) AdminKey() string { return p.adminKey }

// loadAdminKey reads the admin key the node made (or kept) and gives it to
// the client.
func (p *Proc) loadAdminKey() error {
	key, err := apikeys.ReadAdminKey(p.AdminKeyPath())
	if err != nil {
		return fmt.Errorf("node %s admin key: %w", p.Spec.NodeID, err)
	}
	if key != p.adminKey {
		p.adminKey = key
		p.setClient()
	}
	return nil
}

// StartOnFreshPorts is Start for a node nobody addresses by its TCP or HTTP
// port in advance (peers find it by discovery): when a port picked free was
// taken by another process before the node bound it, it retries with new
// ports, up to attempts times.
func (p *Proc) StartOnFreshPorts(ctx context.Context, readyWithin time.Duration, attempts int) error {
	for i := 1; ; i++ {
		err := p.Start(ctx, readyWithin)
		if err == nil || i >= attempts || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
		tcpPort, err := FreePort()
		if err != nil {
			return err
		}
		httpPort, err := FreePort()
		if err != nil {
			return err
		}
		p.TCPPort, p.HTTPAddr = tcpPort, fmt.Sprintf("127.0.0.1:%d", httpPort)
		p.setClient()
	}
}

// Client talks to the node's HTTP API.
func (p *Proc) Client() *client.Client { return p.client }

// PeerAddr is the node's sync address.
func (p *Proc) PeerAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.TCPPort) }

// SetPeers sets Network.StaticPeers (written by the next Start).
func (p *Proc) SetPeers(peers []string) { p.peers = append([]string{}, peers...) }

// WriteConfig writes appsettings.json: loopback only, discovery off.
func (p *Proc) WriteConfig() error {
	interval := orDefault(p.Spec.SyncIntervalMs, 500)
	level := p.Spec.LogLevel
	if level == "" {
		level = "Information"
	}
	peers := p.peers
	if peers == nil {
		peers = []string{}
	}
	cfg := map[string]any{"EntglDb": map[string]any{
		"NodeId":    p.Spec.NodeID,
		"AuthToken": p.Spec.AuthToken,
		"Network": map[string]any{
			"TcpPort": p.TCPPort, "UdpPort": p.UDPPort, "BindAddress": "127.0.0.1",
			"EnableDiscovery": false, "StaticPeers": peers, "Secure": p.Spec.Secure,
			"RetryAttempts": 1, "RetryDelayMs": orDefault(p.Spec.RetryDelayMs, 100),
			"ConnectionTimeoutMs": orDefault(p.Spec.ConnectionTimeoutMs, 2000),
		},
		"Persistence": map[string]any{
			"DatabasePath":     p.DBPath,
			"BackupPath":       filepath.Join(p.Spec.Dir, "backups"),
			"EnableAutoBackup": false,
		},
		"Sync":    map[string]any{"IntervalMs": interval},
		"Http":    map[string]any{"Enabled": true, "Address": p.HTTPAddr},
		"Logging": map[string]any{"Level": level, "Format": "json"},
	}}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.WriteFile(p.Config, data, 0o644); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Running reports whether the process was started and has not exited.
func (p *Proc) Running() bool {
	if p.cmd == nil {
		return false
	}
	exited, _ := p.exit()
	return !exited
}

// PID of the running process (0 when none).
func (p *Proc) PID() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Start launches `entgldb serve --config` (writing the configuration
// first) and waits up to readyWithin for GET /readyz to answer 200.
func (p *Proc) Start(ctx context.Context, readyWithin time.Duration) error {
	if p.Running() {
		return fmt.Errorf("node %s already running", p.Spec.NodeID)
	}
	args := []string{"serve"}
	if !p.Spec.OnDefaults {
		if err := p.WriteConfig(); err != nil {
			return err
		}
		args = append(args, "--config", p.Config)
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("node log: %w", err)
	}
	cmd := exec.Command(p.Bin, args...)
	cmd.Dir = p.Spec.Dir
	if len(p.Spec.Env) > 0 {
		cmd.Env = append(os.Environ(), p.Spec.Env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start node %s: %w", p.Spec.NodeID, err)
	}
	p.cmd, p.logf = cmd, logf
	p.done = make(chan error, 1)
	// The reaper: owned by this Proc, ends when the process exits (every
	// process is eventually stopped or killed by its owner).
	go func(cmd *exec.Cmd, done chan error, logf *os.File) {
		err := cmd.Wait()
		logf.Close()
		done <- err
	}(cmd, p.done, logf)
	if err := p.WaitReady(ctx, readyWithin); err != nil {
		return err
	}
	return p.loadAdminKey()
}

// WaitReady polls /readyz until 200, the process exits, or the deadline.
func (p *Proc) WaitReady(ctx context.Context, within time.Duration) error {
	// Each probe is bounded by the deadline too, not only the loop.
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for wctx.Err() == nil {
		if !p.Running() {
			return fmt.Errorf("node %s exited before ready: %v\n%s", p.Spec.NodeID, p.exitErr(), p.LogTail(20))
		}
		if p.client.Ready(wctx) == nil {
			return nil
		}
		select {
		case <-wctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("node %s not ready within %s\n%s", p.Spec.NodeID, within, p.LogTail(20))
}

// exit returns the Wait result once the process has exited (leaving it
// for the next reader).
func (p *Proc) exit() (exited bool, err error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

func (p *Proc) exitErr() error {
	_, err := p.exit()
	return err
}

// killWait bounds the wait for the kernel to reap a killed process.
const killWait = 30 * time.Second

// Kill sends SIGKILL to the process (by PID) and reaps it. Idempotent; an
// error only when the process outlives the signal by killWait.
func (p *Proc) Kill() error {
	if !p.Running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case err := <-p.done:
		p.done <- err
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("node %s (pid %d) still running %s after SIGKILL", p.Spec.NodeID, p.PID(), killWait)
	}
}

// Stop sends SIGTERM and waits up to within for a graceful exit; past it the
// process is killed and an error returned. It returns the exit code.
func (p *Proc) Stop(within time.Duration) (int, error) {
	if !p.Running() {
		return exitCode(p.exitErr()), nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return -1, fmt.Errorf("SIGTERM %s: %w", p.Spec.NodeID, err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		return exitCode(err), nil
	case <-time.After(within):
		return -1, errors.Join(fmt.Errorf("node %s did not stop within %s", p.Spec.NodeID, within), p.Kill())
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// Log returns the node's whole log (every start appends to it).
func (p *Proc) Log() string {
	data, _ := os.ReadFile(p.LogPath)
	return string(data)
}

// LogTail returns the last n lines of the node's log.
func (p *Proc) LogTail(n int) string {
	data, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RSSBytes reads VmRSS of the process from /proc (Linux).
func (p *Proc) RSSBytes() (int64, error) {
	pid := p.PID()
	if pid == 0 || !p.Running() {
		return 0, errors.New("process not running")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					return 0, err
				}
				return kb * 1024, nil
			}
		}
	}
	return 0, errors.New("VmRSS not found")
}
