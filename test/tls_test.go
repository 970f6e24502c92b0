package test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

// lanNode is a node process configured as on a LAN: its HTTP API listens
// on every interface (0.0.0.0), so other machines could reach it. The
// tests only ever connect to 127.0.0.1.
type lanNode struct {
	t        *testing.T
	dir      string
	port     int
	cmd      *exec.Cmd
	out, log recorder // stdout, stderr
	done     chan struct{}
	exitCode int
}

// startLANNode writes the node's appsettings.json with the given Http
// settings (Address 0.0.0.0:<free port> is added) and runs
// `entgldb serve` in its directory; the process is killed when the test ends.
func startLANNode(t *testing.T, httpSettings map[string]any) *lanNode {
	t.Helper()
	dir := t.TempDir()
	ports := make([]int, 2)
	for i := range ports {
		p, err := nodeproc.FreePort()
		require.NoError(t, err)
		ports[i] = p
	}
	httpSettings["Enabled"] = true
	httpSettings["Address"] = "0.0.0.0:" + strconv.Itoa(ports[0])
	cfg := map[string]any{"EntglDb": map[string]any{
		"NodeId":  "lan",
		"Network": map[string]any{"TcpPort": ports[1], "BindAddress": "127.0.0.1", "EnableDiscovery": false, "UdpPort": 0},
		"Persistence": map[string]any{
			"DatabasePath": filepath.Join(dir, "data", "entgldb.db"), "EnableAutoBackup": false,
		},
		"Http":    httpSettings,
		"Logging": map[string]any{"Format": "json"},
	}}
	data, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "appsettings.json"), data, 0o600))

	n := &lanNode{t: t, dir: dir, port: ports[0], done: make(chan struct{})}
	n.cmd = exec.Command(binPath, "serve")
	n.cmd.Dir = dir
	n.cmd.Stdout, n.cmd.Stderr = &n.out, &n.log
	require.NoError(t, n.cmd.Start())
	go func() { // the reaper: ends when the process exits
		_ = n.cmd.Wait()
		n.exitCode = n.cmd.ProcessState.ExitCode()
		close(n.done)
	}()
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.done
	})
	return n
}

func (n *lanNode) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

func (n *lanNode) logText() string { return string(n.log.Bytes()) }

// loopback is the node's API address as the tests reach it.
func (n *lanNode) loopback() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

var fingerprintLine = regexp.MustCompile(`fingerprint \(SHA-256\): ([0-9A-F:]{95})`)

// fingerprint waits for the fingerprint the node prints on stdout.
func (n *lanNode) fingerprint() string {
	n.t.Helper()
	var fp string
	eventually(n.t, readyWithin, "the node to print its certificate fingerprint", func() bool {
		require.False(n.t, n.exited(), "node exited:\n%s", n.logText())
		if m := fingerprintLine.FindStringSubmatch(string(n.out.Bytes())); m != nil {
			fp = m[1]
		}
		return fp != ""
	})
	return fp
}

// adminKey is the admin key the node made at its start.
func (n *lanNode) adminKey() string {
	n.t.Helper()
	key, err := apikeys.ReadAdminKey(filepath.Join(n.dir, "data", "admin.key"))
	require.NoError(n.t, err)
	return key
}

// waitReady polls /readyz through c.
func (n *lanNode) waitReady(c *client.Client) {
	n.t.Helper()
	eventually(n.t, readyWithin, "the node to be ready", func() bool {
		require.False(n.t, n.exited(), "node exited:\n%s", n.logText())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.Ready(ctx) == nil
	})
}

// A node configured for a LAN with Http.TLSAuto serves HTTPS with the
// self-signed certificate whose fingerprint it prints; the CLI pinning that
// fingerprint works, a wrong pin and plain HTTP fail with clear errors, and
// the CLI run beside the node's configuration pins it with no flags.
func TestLANNodeServesTLSAndTheCLIPinsIt(t *testing.T) {
	n := startLANNode(t, map[string]any{"TLSAuto": true})
	fp := n.fingerprint()
	base := "https://" + n.loopback()
	c := client.New(base, client.WithPin(fp))
	defer c.CloseIdle()
	n.waitReady(c)
	require.Contains(t, n.logText(), fp, "the log names the fingerprint too")

	key := n.adminKey()
	out, errOut, code := runCLI(t, "--node", base, "--pin", fp, "--key", key, "put", "users", "ada", `{"name":"Ada"}`)
	require.Equal(t, 0, code, errOut)
	require.NotEmpty(t, out)
	out, errOut, code = runCLI(t, "--node", base, "--pin", strings.ToLower(strings.ReplaceAll(fp, ":", "")), "--key", key, "get", "users", "ada")
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"name":"Ada"}`, out)

	wrong := "00" + fp[2:]
	if wrong == fp {
		wrong = "11" + fp[2:]
	}
	_, errOut, code = runCLI(t, "--node", base, "--pin", wrong, "get", "users", "ada")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "not the pinned")

	_, errOut, code = runCLI(t, "--node", n.loopback(), "get", "users", "ada")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "serves HTTPS")

	_, errOut, code = runCLI(t, "--node", base, "get", "users", "ada")
	require.NotEqual(t, 0, code, "no pin, no CA: the self-signed certificate is not trusted")
	require.Contains(t, errOut, "certificate")

	// Beside the node's configuration the CLI finds the node and its
	// certificate by itself.
	out, errOut, code = runCLIIn(t, n.dir, "get", "users", "ada")
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"name":"Ada"}`, out)
	out, errOut, code = runCLIIn(t, n.dir, "tls", "fingerprint")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, fp, out)
}

// Plain HTTP on an address others can reach is refused at start with
// CONFIG_ERROR (exit 2) naming the way out.
func TestLANNodeWithoutTLSRefusesToStart(t *testing.T) {
	n := startLANNode(t, map[string]any{})
	select {
	case <-n.done:
	case <-time.After(readyWithin):
		t.Fatalf("the node did not refuse to start:\n%s", n.logText())
	}
	require.Equal(t, 2, n.exitCode)
	require.Contains(t, n.logText(), "error CONFIG_ERROR")
	require.Contains(t, n.logText(), "Http.TLSAuto")
	require.Contains(t, n.logText(), "Http.AllowInsecure")
}

// With the explicit opt-in the node serves plain HTTP on the LAN address,
// warns at start and reports it in /healthz.
func TestLANNodeWithInsecureOptInWarns(t *testing.T) {
	n := startLANNode(t, map[string]any{"AllowInsecure": true})
	c := client.New(n.loopback())
	defer c.CloseIdle()
	n.waitReady(c)
	require.Contains(t, n.logText(), "INSECURE HTTP")

	h, err := c.Health(t.Context())
	require.NoError(t, err)
	var report struct {
		InsecureHTTP bool     `json:"insecure_http"`
		Warnings     []string `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal(h.Report, &report))
	require.True(t, report.InsecureHTTP)
	require.True(t, h.Healthy, "a deliberate setting is a warning, not a failure")
	require.NotEmpty(t, report.Warnings)
	require.Contains(t, strings.Join(report.Warnings, "\n"), "plain HTTP")
}
