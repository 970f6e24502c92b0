package sim

import "fmt"

// Shrink cuts a failing schedule to a short one that still breaks the same
// invariant: delta debugging (ddmin) over the event list, dropping chunks
// while the failure stays, within budget runs. Events carry every random
// choice they need, so the events kept replay as they did.
func Shrink(o Options, events []Event, invariant string, budget int) []Event {
	fails := func(evs []Event) bool {
		budget--
		f := Run(o, evs, false).Failure
		return f != nil && f.Invariant == invariant
	}
	n := 2
	for len(events) >= 2 && budget > 0 {
		chunk := (len(events) + n - 1) / n
		reduced := false
		for start := 0; start < len(events) && budget > 0; start += chunk {
			end := min(start+chunk, len(events))
			cand := append(append([]Event(nil), events[:start]...), events[end:]...)
			if fails(cand) {
				events, reduced = cand, true
				n = max(n-1, 2)
				break
			}
		}
		if !reduced {
			if n >= len(events) {
				break
			}
			n = min(2*n, len(events))
		}
	}
	return events
}

// Report describes a failed run for a human: the failure, the seed and
// every option derived from it, how to replay it, and its schedule shrunk.
func Report(res Result) string {
	o := res.Options
	events := Generate(o)
	short := Shrink(o, events, res.Failure.Invariant, 3000)
	forced := ""
	if o.Store != DeriveOptions(o.Seed).Store {
		forced = " -store " + o.Store // the store was forced, not drawn
	}
	out := fmt.Sprintf("%v\n%s\nreplay: go test ./sim -run 'TestSim$' -seed %d%s -v\nschedule shrunk from %d to %d events:\n",
		res.Failure, o, o.Seed, forced, len(events), len(short))
	for _, ev := range short {
		out += "  " + ev.String() + "\n"
	}
	if f := Run(o, short, false).Failure; f != nil {
		out += "which fails with: " + f.Error() + "\n"
	}
	return out
}
