package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// binPath is the entgldb binary built once for the black-box tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "entgldb-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "entgldb")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/entgldb")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building entgldb:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// nodeProc is one running `entgldb serve` process.
type nodeProc struct {
	t        *testing.T
	dir      string
	config   string
	httpAddr string
	tcpPort  int
	cmd      *exec.Cmd
	logs     interface {
		io.Writer
		String() string
	}
	done chan error
}

type nodeSpec struct {
	NodeID    string
	AuthToken string
	Peers     []string
	Secure    bool
	Extra     map[string]any // merged into EntglDb.Sync
}

// newNodeDir writes an appsettings.json for a node on loopback ports.
func newNodeDir(t *testing.T, spec nodeSpec) *nodeProc {
	t.Helper()
	dir := t.TempDir()
	p := &nodeProc{t: t, dir: dir, httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), tcpPort: freePort(t)}
	token := spec.AuthToken
	if token == "" {
		token = "e2e-cluster"
	}
	syncCfg := map[string]any{"IntervalMs": 200}
	for k, v := range spec.Extra {
		syncCfg[k] = v
	}
	cfg := map[string]any{"EntglDb": map[string]any{
		"NodeId":    spec.NodeID,
		"AuthToken": token,
		"Network": map[string]any{
			"TcpPort": p.tcpPort, "UdpPort": freePort(t), "BindAddress": "127.0.0.1",
			"EnableDiscovery": false, "StaticPeers": orEmpty(spec.Peers), "Secure": spec.Secure,
			"RetryAttempts": 1, "RetryDelayMs": 50, "ConnectionTimeoutMs": 1000,
		},
		"Persistence": map[string]any{
			"DatabasePath": filepath.Join(dir, "data", "entgldb.db"),
			"BackupPath":   filepath.Join(dir, "backups"),
		},
		"Sync":    syncCfg,
		"Http":    map[string]any{"Enabled": true, "Address": p.httpAddr},
		"Logging": map[string]any{"Level": "Debug", "Format": "json"},
	}}
	data, err := json.MarshalIndent(cfg, "", "  ")
	require.NoError(t, err)
	p.config = filepath.Join(dir, "appsettings.json")
	require.NoError(t, os.WriteFile(p.config, data, 0o644))
	return p
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (p *nodeProc) peerAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.tcpPort) }

// start launches the process and waits until /readyz answers 200.
func (p *nodeProc) start() {
	t := p.t
	t.Helper()
	p.logs = &syncBuffer{}
	p.cmd = exec.Command(binPath, "serve", "--config", p.config)
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	require.NoError(t, p.cmd.Start())
	p.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan error) { done <- cmd.Wait() }(p.cmd, p.done)
	t.Cleanup(p.kill)
	p.waitReady(20 * time.Second)
}

func (p *nodeProc) waitReady(within time.Duration) {
	t := p.t
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("node exited before ready: %v\n%s", err, p.logs.String())
		default:
		}
		resp, err := http.Get("http://" + p.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node not ready within %s\n%s", within, p.logs.String())
}

// stop sends SIGTERM and returns the exit code.
func (p *nodeProc) stop(within time.Duration) int {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		p.done <- err
		return exitCode(err)
	case <-time.After(within):
		p.kill()
		p.t.Fatalf("node did not stop within %s\n%s", within, p.logs.String())
	}
	return -1
}

// kill sends SIGKILL (idempotent) and reaps the process.
func (p *nodeProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case err := <-p.done:
		p.done <- err
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// cli runs the entgldb binary against this node and returns stdout, stderr
// and the exit code.
func (p *nodeProc) cli(args ...string) (string, string, int) {
	return runCLI(p.t, append([]string{"--node", p.httpAddr}, args...)...)
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return strings.TrimSpace(out.String()), strings.TrimSpace(errb.String()), exitCode(err)
}

// httpDo sends a request to the node's API and returns status and body.
func (p *nodeProc) httpDo(method, path string, body []byte, header ...string) (int, []byte, http.Header) {
	p.t.Helper()
	req, err := http.NewRequest(method, "http://"+p.httpAddr+path, bytes.NewReader(body))
	require.NoError(p.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	return resp.StatusCode, data, resp.Header
}

// eventually polls cond until it is true or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", within, what)
}

// syncBuffer is a bytes.Buffer safe for the process's writers and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
