// Command soak is the reliability soak: five real `entgldb serve`
// processes on loopback in a full mesh of static peers, a mixed load at a
// fixed rate recording every acknowledged write, and faults on a schedule
// (kill -9 and restart, a 30 s partition, a wrong-key client, a fuzzing
// client, a backup mid-load, an attacker on the LAN, a relay on one link of
// the mesh). At the end the load stops and the soak
// checks convergence, every acknowledged write on every node, goroutine
// and descriptor counts back near their baseline and bounded memory. The
// last line is `SOAK ok …` or `SOAK FAIL …` (exit 1). See RELIABILITY.md.
//
//	go run ./test/soak            # about 11 minutes
//	go run ./test/soak -short     # under 3 minutes
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/test/nodeproc"
)

type options struct {
	duration  time.Duration
	short     bool
	rate      int
	nodes     int
	bin       string
	keep      bool
	seed      uint64
	maxRSSMB  float64
	partition time.Duration
	plaintext bool
}

// node is one member of the cluster.
type node struct {
	idx      int
	proc     *nodeproc.Proc
	restarts int
	baseGor  float64
	baseFDs  float64
	basePID  int
	// addr is the node's real sync address (a partition moves it for a
	// while; the attackers keep aiming at the real one).
	addr string
	// changedNs is when the node was last killed, stopped or (re)started
	// (Unix ns); isolated is set for the length of a partition. The LAN
	// attacker reads both from its own goroutines.
	changedNs atomic.Int64
	isolated  atomic.Bool
}

func (n *node) name() string { return n.proc.Spec.NodeID }

// markChanged records that the node's process is about to change or just
// did (kill, start, isolation, healing).
func (n *node) markChanged() { n.changedNs.Store(time.Now().UnixNano()) }

func (n *node) changedAt() time.Time { return time.Unix(0, n.changedNs.Load()) }

type cluster struct {
	bin       string
	secure    bool
	authToken string
	nodes     []*node
	faults    *faultLog
	backups   int
	// relay sits between the first node and the second: the first node's
	// static peer for the second is the relay's address.
	relay *relay
}

// secretNeedles are the byte strings that must never cross the wire: the
// cluster secret and the key the handshake derives from it.
func (c *cluster) secretNeedles() [][]byte {
	psk := protocol.DerivePSK([]byte(c.authToken))
	return [][]byte{[]byte(c.authToken), psk[:]}
}

// anotherNode is a running node other than n.
func (c *cluster) anotherNode(n *node) *node {
	for _, o := range c.nodes {
		if o != n && o.proc.Running() {
			return o
		}
	}
	return nil
}

func (c *cluster) peersOf(n *node) []string {
	var peers []string
	for _, o := range c.nodes {
		switch {
		case o == n:
		case c.relay != nil && n == c.nodes[0] && o == c.nodes[1]:
			peers = append(peers, c.relay.Addr())
		default:
			peers = append(peers, o.proc.PeerAddr())
		}
	}
	return peers
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the load runs (the whole soak takes about a minute more)")
	flag.BoolVar(&o.short, "short", false, "a 90-second load (under 3 minutes in all)")
	flag.IntVar(&o.rate, "rate", 50, "operations per second across all workers")
	flag.IntVar(&o.nodes, "nodes", 5, "node processes")
	flag.StringVar(&o.bin, "bin", "", "entgldb binary (default: bin/entgldb when present, else built into a temp dir)")
	flag.BoolVar(&o.keep, "keep", false, "keep the nodes' directories (logs, databases)")
	flag.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "random seed")
	flag.Float64Var(&o.maxRSSMB, "max-rss-mb", 256, "resident memory bound per node at the end")
	flag.DurationVar(&o.partition, "partition", 30*time.Second, "how long the partitioned node is isolated")
	flag.BoolVar(&o.plaintext, "plaintext", false, "run the cluster without the secure channel")
	flag.Parse()
	if o.short {
		o.duration = 90 * time.Second
	}
	if o.duration > 12*time.Minute {
		fmt.Fprintln(os.Stderr, "soak: -duration is capped at 12m so the whole run stays under 15 minutes")
		o.duration = 12 * time.Minute
	}
	if o.nodes < 3 || o.rate < 1 {
		fmt.Fprintln(os.Stderr, "soak: need -nodes >= 3 and -rate >= 1")
		os.Exit(2)
	}
	// Ctrl-C stops the soak cleanly (every process is still stopped by PID).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, o.duration+4*time.Minute)
	code := run(ctx, o)
	cancel()
	stop()
	os.Exit(code)
}

func run(ctx context.Context, o options) int {
	root, err := os.MkdirTemp("", "entgldb-soak-")
	if err != nil {
		return fail("temp dir: %v", err)
	}
	if o.keep {
		fmt.Println("soak: keeping", root)
	} else {
		defer os.RemoveAll(root)
	}
	bin, err := findBinary(ctx, o.bin, root)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Printf("soak: binary %s, %d nodes, load %s at %d ops/s, seed %d\n", bin, o.nodes, o.duration, o.rate, o.seed)

	c := &cluster{bin: bin, secure: !o.plaintext, authToken: "soak-cluster", faults: &faultLog{}}
	for i := 0; i < o.nodes; i++ {
		p, err := nodeproc.New(bin, nodeproc.Spec{Dir: filepath.Join(root, fmt.Sprintf("node-%d", i)),
			NodeID: fmt.Sprintf("soak-%d", i), AuthToken: c.authToken, Secure: c.secure, SyncIntervalMs: 500,
			// Discovery on, its beacons addressed to the LAN attacker
			// (lan.go says why), so every node's UDP port is open to it.
			Env: []string{"ENTGLDB__NETWORK__ENABLEDISCOVERY=true", "ENTGLDB__NETWORK__BROADCASTADDRESS=" + attackerIP}})
		if err != nil {
			return fail("%v", err)
		}
		c.nodes = append(c.nodes, &node{idx: i, proc: p, addr: p.PeerAddr()})
	}
	relay, err := startRelay(c.nodes[1].addr, c.secretNeedles()...)
	if err != nil {
		return fail("relay: %v", err)
	}
	c.relay = relay
	defer relay.Close()
	// Every process started is stopped by its PID, whatever happens.
	defer func() {
		for _, n := range c.nodes {
			if err := n.proc.Kill(); err != nil {
				fmt.Println("soak:", err)
			}
		}
	}()
	for _, n := range c.nodes {
		n.proc.SetPeers(c.peersOf(n))
		if err := n.proc.Start(ctx, 30*time.Second); err != nil {
			return fail("start: %v", err)
		}
		n.markChanged()
	}
	if err := takeBaseline(ctx, c); err != nil {
		return fail("baseline: %v", err)
	}

	// The load.
	stats := &loadStats{}
	workers := make([]*worker, len(c.nodes))
	for i, n := range c.nodes {
		workers[i] = newWorker(n, o.seed, stats)
	}
	loadCtx, stopLoad := context.WithTimeout(ctx, o.duration)
	defer stopLoad()
	c.faults.start = time.Now()
	every := time.Duration(float64(time.Second) * float64(len(workers)) / float64(o.rate))
	maxOps := int(o.duration/every) + 10
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(loadCtx, every, maxOps) })
	}

	// The faults, on a schedule relative to the load's duration.
	var ist intruderStats
	var fst fuzzStats
	var lst lanStats
	var lan lanOutcome
	schedErr := c.schedule(loadCtx, o, &ist, &fst, &lst, &lan, &wg)
	<-loadCtx.Done()
	wg.Wait() // workers, node faults, intruder and fuzzer have all returned
	stopped := time.Now()
	loadTook := time.Since(c.faults.start)
	if ctx.Err() != nil {
		return fail("interrupted: %v", ctx.Err())
	}
	fmt.Printf("soak: load stopped after %.0f s\n", loadTook.Seconds())

	var problems []string
	if err := schedErr(); err != nil {
		problems = append(problems, "fault schedule: "+err.Error())
	}
	// Any node down (the last kill, or a fault cut short by the end of the
	// load) comes back with its real configuration; convergence is timed
	// from the end of the load, restarts included.
	for _, n := range c.nodes {
		if !n.proc.Running() {
			fmt.Printf("soak: restarting %s\n", n.name())
			n.proc.SetPeers(c.peersOf(n))
			if err := n.proc.Start(ctx, 30*time.Second); err != nil {
				problems = append(problems, "restart after load: "+err.Error())
			}
			n.markChanged()
			n.restarts++
		}
	}

	// Convergence and the acknowledged writes.
	snaps, took, convErr := waitConverged(ctx, c.nodes, stopped, 30*time.Second)
	if convErr != nil {
		problems = append(problems, "convergence: "+convErr.Error())
	}
	lost, uncertain, examples := 0, 0, []string(nil)
	if len(snaps) == len(c.nodes) {
		lost, uncertain, examples = verify(workers, c.nodes, snaps)
		examples = append(examples, unexpectedKeys(workers, c.nodes, snaps)...)
	} else {
		problems = append(problems, "no complete snapshot of the nodes to verify")
		lost = -1
	}
	if lost != 0 {
		problems = append(problems, fmt.Sprintf("%d keys wrong on some node", lost))
	}
	if stats.nViolation > 0 {
		problems = append(problems, fmt.Sprintf("%d violations during the load", stats.nViolation))
	}
	problems = append(problems, c.faults.failed...)
	if n := ist.accepted.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("wrong-key client accepted %d times", n))
	}
	if n := ist.leaked.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("wrong-key client received data %d times", n))
	}
	lan.relayConns, lan.relaySecretSeen = c.relay.conns.Load(), c.relay.secretSeen.Load()
	problems = append(problems, lan.problems()...)
	end := c.checkResources(ctx, o)
	problems = append(problems, end.problems...)

	printSummary(c, stats, &ist, &fst, snaps, end, loadTook, took, uncertain)
	printLAN(&lst, lan, c.relay)
	for _, e := range examples {
		fmt.Println("  example:", e)
	}
	for _, v := range stats.violations {
		fmt.Println("  violation:", v)
	}
	// Graceful stop of every node: a clean exit is part of the result.
	for _, n := range c.nodes {
		if code, err := n.proc.Stop(30 * time.Second); err != nil || code != 0 {
			problems = append(problems, fmt.Sprintf("%s: stop exit %d %v", n.name(), code, err))
		}
	}
	faults := c.faults.count
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("  problem:", p)
		}
		if !o.keep {
			fmt.Println("  (rerun with -keep to inspect the nodes' logs and databases)")
		}
		fmt.Printf("SOAK FAIL acked=%d lost=%d converged_s=%.1f faults=%d %s problems=%d first=%q\n",
			stats.ackedWrites.Load(), lost, took.Seconds(), faults, lan.verdict(), len(problems), problems[0])
		return 1
	}
	fmt.Printf("SOAK ok acked=%d lost=0 converged_s=%.1f faults=%d %s\n", stats.ackedWrites.Load(), took.Seconds(), faults, lan.verdict())
	return 0
}

// schedule starts the fault injectors. Node faults run one after another
// in a goroutine owned by wg; the wrong-key and fuzzing clients run in
// their own goroutines, also owned by wg. Everything ends with ctx. The
// returned func reports the first fault that could not be carried out
// (read it after wg.Wait).
func (c *cluster) schedule(ctx context.Context, o options, ist *intruderStats, fst *fuzzStats, lst *lanStats, lan *lanOutcome,
	wg *sync.WaitGroup) func() error {
	d := o.duration
	at := func(frac float64) time.Time { return c.faults.start.Add(time.Duration(frac * float64(d))) }
	pick := func(salt uint64) *node { return c.nodes[(o.seed+salt)%uint64(len(c.nodes))] }
	clientFor := min(d/6, 30*time.Second)
	var errMu sync.Mutex
	var firstErr error
	setErr := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if firstErr == nil && err != nil && ctx.Err() == nil {
			firstErr = err
		}
	}
	wg.Go(func() {
		if sleepCtx(ctx, time.Until(at(0.08))) != nil {
			return
		}
		n := pick(1)
		c.faults.add("wrong-key client hammers %s for %s", n.name(), clientFor)
		c.intruder(ctx, n, clientFor, ist)
		c.faults.note("wrong-key client done: %d handshakes, %d refused, %d accepted, %d answered a pull",
			ist.attempts.Load(), ist.refused.Load(), ist.accepted.Load(), ist.leaked.Load())
	})
	wg.Go(func() {
		if sleepCtx(ctx, time.Until(at(0.12))) != nil {
			return
		}
		n := pick(2)
		pid := n.proc.PID()
		c.faults.add("fuzzing client sends malformed frames to %s for %s", n.name(), clientFor)
		c.fuzzer(ctx, n, clientFor, fst, o.seed)
		c.faults.note("fuzzing client done: %d connections, %d closed by the node, %d still open at the client's 2 s deadline",
			fst.conns.Load(), fst.closedByNode.Load(), fst.timedOut.Load())
		if n.proc.PID() == pid && !n.proc.Running() {
			c.faults.fail("%s died under the fuzzing client:\n%s", n.name(), n.proc.LogTail(20))
		}
	})
	// The LAN attacker: most of the load, node faults included.
	lanFor := min(d*6/10, 3*time.Minute)
	wg.Go(func() {
		if sleepCtx(ctx, time.Until(at(0.10))) != nil {
			*lan = lanOutcome{runErr: ctx.Err()}
			return
		}
		c.faults.add("LAN attacker for %s: forged and replayed beacons at %d/s, %d silent connections per node, %d compressed pre-auth frames/s",
			lanFor, beaconsPerSecond, silentPerNode, brotliPerSecond)
		*lan = c.lanAttack(ctx, lanFor, lst)
		c.faults.note("LAN attacker done: %d beacons sent, %d nodes' drops (%s), %d silent connections (%d closed by the nodes), %d compressed frames (%d answered)",
			lst.beaconsSent(), int64(lan.seen.beacons["bad_mac"]+lan.seen.beacons["malformed"]+lan.seen.beacons["stale"]),
			formatCounts(lan.seen.beacons), lst.silentOpened.Load(), lst.silentClosedByNode.Load(), lst.brotliSent.Load(), lst.brotliAnswered.Load())
	})
	// Node faults, sequential: kills spread over the run, one backup, one
	// partition (which needs o.partition plus restarts to fit).
	type event struct {
		frac float64
		do   func() error
	}
	var events []event
	kills := max(2, int(d/(2*time.Minute)))
	for i := 0; i < kills; i++ {
		frac := 0.2 + 0.6*float64(i)/float64(kills)
		salt := uint64(10 + i)
		events = append(events, event{frac, func() error { return c.killRestart(ctx, pick(salt), time.Second) }})
	}
	events = append(events, event{0.35, func() error { return c.backup(ctx, pick(3)) }})
	// A node down for the last part of the load, restarted only once the
	// load has stopped: the final convergence then includes a real catch-up.
	events = append(events, event{0.93, func() error {
		n := pick(5)
		pid := n.proc.PID()
		n.markChanged()
		if err := n.proc.Kill(); err != nil {
			return err
		}
		c.faults.add("kill -9 %s (pid %d), restarted only after the load stops", n.name(), pid)
		return nil
	}})
	events = append(events, event{0.45, func() error { return c.partition(ctx, pick(4), o.partition) }})
	sort.Slice(events, func(i, j int) bool { return events[i].frac < events[j].frac })
	wg.Go(func() {
		for _, e := range events {
			if sleepCtx(ctx, time.Until(at(e.frac))) != nil {
				return
			}
			setErr(e.do())
		}
	})
	return func() error {
		errMu.Lock()
		defer errMu.Unlock()
		return firstErr
	}
}

// takeBaseline waits for the mesh to settle and records each node's
// goroutine and descriptor counts.
func takeBaseline(ctx context.Context, c *cluster) error {
	// Let every node complete sync rounds with its peers so the baseline
	// includes the pooled peer sessions the end state will also hold.
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range c.nodes {
		for {
			synced, err := syncedPeers(ctx, n)
			if err == nil && synced >= len(c.nodes)-1 {
				break
			}
			if time.Now().After(deadline) {
				fmt.Printf("soak: %s has synced with %d peers after 20 s (%v); baseline taken anyway\n", n.name(), synced, err)
				break
			}
			if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
	}
	for _, n := range c.nodes {
		n.proc.Client().CloseIdle()
		m, err := n.proc.Client().Metrics(ctx)
		if err != nil {
			return err
		}
		n.baseGor, n.baseFDs, n.basePID = m["go_goroutines"], m["process_open_fds"], n.proc.PID()
	}
	return nil
}

// syncedPeers counts the peers a node has completed a sync round with.
func syncedPeers(ctx context.Context, n *node) (int, error) {
	peers, err := n.proc.Client().Peers(ctx)
	if err != nil {
		return 0, err
	}
	synced := 0
	for _, p := range peers {
		if p.SuccessfulSyncs > 0 {
			synced++
		}
	}
	return synced, nil
}

type endState struct {
	gor, fds, rss map[*node]float64
	problems      []string
}

// checkResources waits (bounded) for goroutines and descriptors to come
// back near the baseline, and checks resident memory.
func (c *cluster) checkResources(ctx context.Context, o options) endState {
	e := endState{gor: map[*node]float64{}, fds: map[*node]float64{}, rss: map[*node]float64{}}
	gorLimit := func(n *node) float64 { return n.baseGor*1.5 + 20 }
	fdLimit := func(n *node) float64 { return n.baseFDs + 20 }
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for _, n := range c.nodes {
			n.proc.Client().CloseIdle()
			m, err := n.proc.Client().Metrics(ctx)
			if err != nil {
				ok = false
				continue
			}
			e.gor[n], e.fds[n], e.rss[n] = m["go_goroutines"], m["process_open_fds"], m["process_resident_memory_bytes"]
			if e.gor[n] > gorLimit(n) || e.fds[n] > fdLimit(n) {
				ok = false
			}
		}
		if ok || time.Now().After(deadline) || sleepCtx(ctx, 500*time.Millisecond) != nil {
			break
		}
	}
	for _, n := range c.nodes {
		if e.gor[n] > gorLimit(n) {
			e.problems = append(e.problems, fmt.Sprintf("%s: %v goroutines, baseline %v", n.name(), e.gor[n], n.baseGor))
		}
		if e.fds[n] > fdLimit(n) {
			e.problems = append(e.problems, fmt.Sprintf("%s: %v open fds, baseline %v", n.name(), e.fds[n], n.baseFDs))
		}
		if mb := e.rss[n] / (1 << 20); mb > o.maxRSSMB || mb == 0 {
			e.problems = append(e.problems, fmt.Sprintf("%s: resident memory %.1f MB (bound %.0f MB)", n.name(), mb, o.maxRSSMB))
		}
	}
	return e
}

func unexpectedKeys(workers []*worker, nodes []*node, snaps []snapshot) []string {
	known := map[string]bool{}
	for _, w := range workers {
		for c, ks := range w.keys {
			for _, k := range ks {
				known[c+"/"+k.key] = true
			}
		}
	}
	var out []string
	for i, s := range snaps {
		for c, docs := range s.docs {
			for k := range docs {
				if !known[c+"/"+k] && len(out) < 5 {
					out = append(out, fmt.Sprintf("unexpected document %s/%s on %s", c, k, nodes[i].name()))
				}
			}
		}
	}
	return out
}

func printSummary(c *cluster, st *loadStats, ist *intruderStats, fst *fuzzStats, snaps []snapshot, e endState, load, conv time.Duration, uncertain int) {
	fmt.Println()
	fmt.Println("| operation | acknowledged | rejected | unknown outcome |")
	fmt.Println("|---|---|---|---|")
	for _, r := range []struct {
		name string
		c    *counter
	}{{"put", &st.puts}, {"delete", &st.deletes}, {"batch", &st.batches}, {"get (read your writes)", &st.gets}, {"query", &st.queries}} {
		fmt.Printf("| %s | %d | %d | %d |\n", r.name, r.c.acked.Load(), r.c.rejected.Load(), r.c.unknown.Load())
	}
	fmt.Println()
	fmt.Println("| node | restarts | documents | hash | goroutines base→end | fds base→end | rss MB |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for i, n := range c.nodes {
		docs, hash := "?", "?"
		if i < len(snaps) && snaps[i].docs != nil {
			docs, hash = fmt.Sprint(snaps[i].n), snaps[i].hash
		}
		fmt.Printf("| %s | %d | %s | %s | %.0f→%.0f | %.0f→%.0f | %.1f |\n", n.name(), n.restarts, docs, hash,
			n.baseGor, e.gor[n], n.baseFDs, e.fds[n], e.rss[n]/(1<<20))
	}
	fmt.Println()
	fmt.Printf("load %.0f s · acknowledged writes %d · keys with an unknown last write %d · backups verified %d\n",
		load.Seconds(), st.ackedWrites.Load(), uncertain, c.backups)
	fmt.Printf("wrong-key handshakes %d (refused %d, accepted %d, answered %d) · fuzz connections %d (node closed %d) · converged in %.1f s\n",
		ist.attempts.Load(), ist.refused.Load(), ist.accepted.Load(), ist.leaked.Load(), fst.conns.Load(), fst.closedByNode.Load(), conv.Seconds())
	fmt.Println("faults:")
	for _, ev := range c.faults.events {
		fmt.Println("  " + ev)
	}
}

// findBinary uses -bin, else builds ./cmd/entgldb into dir.
func findBinary(ctx context.Context, flagBin, dir string) (string, error) {
	if flagBin != "" {
		return filepath.Abs(flagBin)
	}
	root, err := nodeproc.ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	_ = root // building is cheap with a warm cache and never runs a stale bin/entgldb
	out := filepath.Join(dir, "entgldb")
	fmt.Println("soak: building ./cmd/entgldb")
	if err := nodeproc.Build(ctx, out); err != nil {
		return "", err
	}
	return out, nil
}

func fail(format string, args ...any) int {
	fmt.Printf("SOAK FAIL "+format+"\n", args...)
	return 1
}
