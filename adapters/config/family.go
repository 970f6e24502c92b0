package config

import (
	"net"
	"slices"
	"strconv"
	"strings"
)

// A C# node's appsettings.json (EntglDb.Net 2.x samples) names some of our
// settings differently and adds a few of its own. Such a file works
// unchanged: its keys are mapped onto ours, or accepted without effect, and
// FamilyKeys lists them for one warning at start.

// familyAliases maps a C# key (lower-case dotted path inside the EntglDb
// object) to our canonical key.
var familyAliases = map[string]string{
	"network.authtoken":        "AuthToken",
	"sync.syncintervalms":      "Sync.IntervalMs",
	"logging.loglevel":         "Logging.Level",
	"logging.logfilepath":      "Logging.FilePath",
	"logging.maxlogfilesizemb": "Logging.MaxFileSizeMb",
	"logging.maxlogfiles":      "Logging.MaxFiles",
}

// familyIgnored are C# keys that have no counterpart here: accepted, no
// effect (SQLite's busy timeout is the store's own).
var familyIgnored = map[string]bool{"persistence.busytimeoutms": true}

const (
	familyLocalhostOnly = "network.localhostonly" // true: bind to loopback
	familyKnownPeers    = "knownpeers"            // [{NodeId, Host, Port}] → Network.StaticPeers
)

// familyFile is what a file's C# keys contribute.
type familyFile struct {
	flat     map[string]familyValue // canonical key → value as in the file
	peers    []string               // from KnownPeers
	loopback bool                   // LocalhostOnly: true
	keys     []string               // the keys as written, for the warning
}

// familyValue is a C# key's value and its name as written.
type familyValue struct {
	shown string
	v     any
}

// takeFamilyKeys removes the C# keys from obj (the EntglDb object) into f.
func (f *familyFile) takeFamilyKeys(obj map[string]any) Problems {
	var probs Problems
	for key, v := range obj {
		lk := strings.ToLower(key)
		if lk == familyKnownPeers {
			probs = append(probs, f.knownPeers(Section+"."+key, v)...)
			delete(obj, key)
			continue
		}
		sec, ok := v.(map[string]any)
		if !ok {
			continue
		}
		for sub, sv := range sec {
			path := lk + "." + strings.ToLower(sub)
			shown := Section + "." + key + "." + sub
			switch {
			case familyAliases[path] != "":
				f.flat[familyAliases[path]] = familyValue{shown, sv}
			case familyIgnored[path]:
			case path == familyLocalhostOnly:
				on, reason := coerce("Network.Secure", sv) // any bool key
				if reason != "" {
					probs = append(probs, Problem{Key: shown, Value: show(sv), Reason: reason})
				} else {
					f.loopback = on.(bool)
				}
			default:
				continue
			}
			f.keys = append(f.keys, shown)
			delete(sec, sub)
		}
	}
	return probs
}

// knownPeers reads KnownPeers: [{NodeId, Host, Port}] as host:port.
func (f *familyFile) knownPeers(shown string, v any) Problems {
	f.keys = append(f.keys, shown)
	list, ok := v.([]any)
	if !ok {
		return Problems{{Key: shown, Value: show(v), Reason: "must be a list of {NodeId, Host, Port}"}}
	}
	var probs Problems
	for i, e := range list {
		m, ok := e.(map[string]any)
		host, port := "", -1
		for k, fv := range m {
			switch strings.ToLower(k) {
			case "host":
				host, _ = fv.(string)
			case "port":
				if n, reason := coerce("Network.TcpPort", fv); reason == "" {
					port = n.(int)
				}
			}
		}
		if !ok || host == "" || port < 1 || port > 65535 {
			probs = append(probs, Problem{Key: shown + "[" + strconv.Itoa(i) + "]", Value: show(e),
				Reason: "must be {NodeId, Host, Port} with a host and a port from 1 to 65535"})
			continue
		}
		f.peers = append(f.peers, net.JoinHostPort(host, strconv.Itoa(port)))
	}
	return probs
}

// merge adds the C# keys' values to out (the file's canonical keys). Our
// own name wins over the C# one when both are given; KnownPeers are added to
// the static peers.
func (f *familyFile) merge(out map[string]any) Problems {
	var probs Problems
	for canon, fv := range f.flat {
		if _, ours := out[canon]; ours || fv.v == nil {
			continue
		}
		val, reason := coerce(canon, fv.v)
		if reason != "" {
			probs = append(probs, Problem{Key: fv.shown, Value: show(fv.v), Reason: reason})
			continue
		}
		out[canon] = val
	}
	if f.loopback {
		if _, ours := out["Network.BindAddress"]; !ours {
			out["Network.BindAddress"] = "127.0.0.1"
		}
	}
	if len(f.peers) > 0 {
		peers, _ := out["Network.StaticPeers"].([]string)
		for _, p := range f.peers {
			if !slices.Contains(peers, p) {
				peers = append(peers, p)
			}
		}
		out["Network.StaticPeers"] = peers
	}
	slices.Sort(f.keys)
	return probs
}
