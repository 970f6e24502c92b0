//go:build linux

package netns_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv turns this test binary into a small UDP tool when it is
// re-executed inside a namespace (TestHelperProcess).
const helperEnv = "EGDB_NETNS_HELPER"

const probePort = 6999

// TestBroadcastCrossesBridge proves the test network itself works, apart
// from entgldb: a datagram sent to the directed broadcast address from one
// namespace reaches listeners in the other two, with the sender's address as
// source. When TestDiscoveryAcrossNamespaces fails and this passes, the
// fault is in the node, not the setup.
func TestBroadcastCrossesBridge(t *testing.T) {
	l := setupLAN(t, 3)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := func(ns, name string, args ...string) *proc {
		argv := append([]string{self, "-test.run=^TestHelperProcess$", "--"}, args...)
		return startIn(t, ns, name, []string{helperEnv + "=1"}, argv...)
	}
	var receivers []*proc
	for i := 1; i < 3; i++ {
		receivers = append(receivers, helper(l.nodes[i], fmt.Sprintf("recv%d", i), "recv", strconv.Itoa(probePort)))
	}
	// The sender repeats until killed, so it does not matter whether the
	// receivers are listening yet when it starts.
	sender := helper(l.nodes[0], "send", "send", net.JoinHostPort(l.broadcast(), strconv.Itoa(probePort)))

	for i, r := range receivers {
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("node %d heard no broadcast within 10s", i+1)
		}
		if r.err != nil {
			t.Fatalf("receiver %d: %v\n%s", i+1, r.err, tail(r.log, 20))
		}
		got := strings.TrimSpace(tail(r.log, 1))
		want := "FROM " + l.addr(0) + " probe"
		if !strings.HasPrefix(got, want) {
			t.Fatalf("receiver %d printed %q, want prefix %q", i+1, got, want)
		}
	}
	sender.stop(t, 2*time.Second)
}

// TestHelperProcess is not a test: re-executed with helperEnv set, it acts
// as `recv PORT` (print the first datagram's source and exit) or
// `send HOST:PORT` (send a datagram every 100 ms until killed).
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	if err := helperMain(args); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func helperMain(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: recv PORT | send HOST:PORT, got %q", args)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	switch args[0] {
	case "recv":
		conn, err := net.ListenPacket("udp4", ":"+args[1])
		if err != nil {
			return err
		}
		defer conn.Close()
		deadline, _ := ctx.Deadline()
		_ = conn.SetReadDeadline(deadline)
		buf := make([]byte, 2048)
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return err
		}
		host, _, _ := net.SplitHostPort(from.String())
		fmt.Printf("FROM %s %s\n", host, buf[:n])
		return nil
	case "send":
		dst, err := net.ResolveUDPAddr("udp4", args[1])
		if err != nil {
			return err
		}
		// Go enables SO_BROADCAST on every UDP socket, so a broadcast
		// destination needs nothing more.
		conn, err := net.ListenUDP("udp4", nil)
		if err != nil {
			return err
		}
		defer conn.Close()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := conn.WriteToUDP([]byte("probe"), dst); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return errors.New("still sending after 20s: nobody stopped the sender")
			case <-tick.C:
			}
		}
	}
	return fmt.Errorf("unknown helper mode %q", args[0])
}
