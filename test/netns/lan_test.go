//go:build linux

package netns_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// lan is a private Ethernet segment: one "switch" namespace holding a
// bridge, and one namespace per node attached to it by a veth pair. Every
// interface and address lives inside namespaces this test created, so the
// host's own network is never touched.
type lan struct {
	sw     string   // the switch namespace
	nodes  []string // one namespace per node
	subnet int      // third octet of 10.254.<subnet>.0/24
}

// nsPrefix marks every namespace this package creates; the pid lets a later
// run remove namespaces left behind by a run that was killed.
const nsPrefix = "egdb-"

var lanSeq atomic.Int32

// addr is node i's IPv4 address.
func (l *lan) addr(i int) string { return fmt.Sprintf("10.254.%d.%d", l.subnet, i+1) }

// broadcast is the segment's directed broadcast address.
func (l *lan) broadcast() string { return fmt.Sprintf("10.254.%d.255", l.subnet) }

// requireNetAdmin fails (never skips: CI runs as root and must run this
// test) when namespaces cannot be created.
func requireNetAdmin(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("this test needs root to create network namespaces (euid %d); it fails rather than skips so CI cannot silently lose it", os.Geteuid())
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatalf("the ip command is missing (Debian package iproute2): %v", err)
	}
	return ip
}

// runIP runs `ip args...` and fails the test with ip's output on error.
func runIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// setupLAN creates a switch namespace and n node namespaces wired to it.
// Cleanup deletes every namespace it created (the veths and the bridge go
// with them), even when setup fails half way.
func setupLAN(t *testing.T, n int) *lan {
	t.Helper()
	requireNetAdmin(t)
	sweepStale(t)

	base := fmt.Sprintf("%s%d-%d-", nsPrefix, os.Getpid(), lanSeq.Add(1))
	l := &lan{sw: base + "sw", subnet: 1 + rand.IntN(250)}
	var created []string
	t.Cleanup(func() {
		// Reverse order: node namespaces first, then the switch.
		for i := len(created) - 1; i >= 0; i-- {
			if out, err := exec.Command("ip", "netns", "del", created[i]).CombinedOutput(); err != nil {
				t.Errorf("cleanup: ip netns del %s: %v\n%s", created[i], err, out)
			}
		}
	})
	addNS := func(name string) {
		runIP(t, "netns", "add", name)
		created = append(created, name)
		runIP(t, "-n", name, "link", "set", "lo", "up")
	}

	addNS(l.sw)
	runIP(t, "-n", l.sw, "link", "add", "br0", "type", "bridge")
	runIP(t, "-n", l.sw, "link", "set", "br0", "up")
	for i := range n {
		ns := base + string(rune('a'+i))
		addNS(ns)
		l.nodes = append(l.nodes, ns)
		port := fmt.Sprintf("port%d", i)
		// Created inside the node namespace; the peer end moves straight
		// into the switch namespace, so no interface ever exists on the host.
		runIP(t, "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", l.sw)
		runIP(t, "-n", l.sw, "link", "set", port, "master", "br0")
		runIP(t, "-n", l.sw, "link", "set", port, "up")
		runIP(t, "-n", ns, "addr", "add", l.addr(i)+"/24", "broadcast", l.broadcast(), "dev", "eth0")
		runIP(t, "-n", ns, "link", "set", "eth0", "up")
	}
	return l
}

var staleNS = regexp.MustCompile(`^` + nsPrefix + `(\d+)-\d+-`)

// sweepStale deletes namespaces of this package whose creating test process
// no longer exists (a run killed before its cleanup could run).
func sweepStale(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		m := staleNS.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Logf("removing stale namespace %s: %v\n%s", name, err, out)
		} else {
			t.Logf("removed stale namespace %s left by dead process %d", name, pid)
		}
	}
}

// proc is a process running inside a namespace.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once Wait returned
	err  error         // Wait's result, valid after done
}

// startIn runs argv inside namespace ns with its output going to a log file.
// `ip netns exec` execs the program in place, so cmd.Process is the program
// itself and signals reach it directly. Cleanup stops it (SIGTERM, then
// SIGKILL) and waits for it; on failure the log's tail is printed.
func startIn(t *testing.T, ns, name string, env []string, argv ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// If this test process dies without cleanup, the kernel kills the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s in %s: %v", name, ns, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t, 5*time.Second)
		if t.Failed() {
			t.Logf("---- %s (%s) log tail ----\n%s", name, ns, tail(logPath, 40))
			if ev := grep(logPath, `"msg":"peer `); ev != "" {
				t.Logf("---- %s (%s) peer events ----\n%s", name, ns, ev)
			}
		}
	})
	return p
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs; it returns whether
// the process exited on its own within grace.
func (p *proc) stop(t *testing.T, grace time.Duration) bool {
	select {
	case <-p.done:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
	}
	t.Logf("%s did not stop within %v of SIGTERM; killing it", p.name, grace)
	_ = p.cmd.Process.Kill()
	<-p.done
	return false
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// grep returns the lines of a file that contain substr.
func grep(path, substr string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// execIn runs argv inside ns to completion and returns stdout; stderr is
// folded into the error.
func execIn(ctx context.Context, ns string, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s in %s: %w: %s", strings.Join(argv, " "), ns, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// waitFor polls cond every interval until it returns true or the deadline
// passes; it returns the time taken and the last reason cond gave.
func waitFor(timeout, interval time.Duration, cond func() (bool, string)) (time.Duration, bool, string) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return time.Since(start), true, why
		}
		if time.Now().After(deadline) {
			return time.Since(start), false, why
		}
		time.Sleep(interval)
	}
}
