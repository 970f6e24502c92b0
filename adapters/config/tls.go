package config

import (
	"net"
	"path/filepath"
	"strings"
)

// Default file names of the self-signed HTTP API certificate kept beside
// the database (Http.TLSAuto).
const (
	DefaultTLSCertFileName = "tls.crt"
	DefaultTLSKeyFileName  = "tls.key"
)

// TLSEnabled reports whether the HTTP API serves HTTPS.
func (h Http) TLSEnabled() bool { return h.TLSAuto || h.TLSCertFile != "" }

// TLSFiles are the certificate and key files the HTTP API serves HTTPS
// with: the configured ones, or those of the self-signed certificate beside
// the database; "" when TLS is off.
func (c Config) TLSFiles() (certFile, keyFile string) {
	switch {
	case c.Http.TLSCertFile != "":
		return c.Http.TLSCertFile, c.Http.TLSKeyFile
	case c.Http.TLSAuto:
		dir := filepath.Dir(c.Persistence.DatabasePath)
		return filepath.Join(dir, DefaultTLSCertFileName), filepath.Join(dir, DefaultTLSKeyFileName)
	}
	return "", ""
}

// InsecureHTTP reports whether the API serves plain HTTP on a non-loopback
// address (only possible with Http.AllowInsecure).
func (c Config) InsecureHTTP() bool {
	return c.Http.Enabled && !c.Http.TLSEnabled() && !loopbackAddress(c.Http.Address)
}

// httpTLSProblems checks the TLS settings, and refuses plain HTTP on an
// address others can reach unless Http.AllowInsecure says so: keys and
// documents would cross the network readable by anyone on the path.
func (c Config) httpTLSProblems() Problems {
	var ps Problems
	add := func(key string, value any, reason string) {
		ps = append(ps, Problem{Key: Section + "." + key, Value: show(value), Reason: reason})
	}
	h := c.Http
	if (h.TLSCertFile == "") != (h.TLSKeyFile == "") {
		add("Http.TLSKeyFile", h.TLSKeyFile, "Http.TLSCertFile and Http.TLSKeyFile must be given together")
	}
	if h.TLSAuto && (h.TLSCertFile != "" || h.TLSKeyFile != "") {
		add("Http.TLSAuto", h.TLSAuto, "must be false when Http.TLSCertFile and Http.TLSKeyFile are given (one certificate or the other)")
	}
	if h.Enabled && !h.TLSEnabled() && !h.AllowInsecure && !loopbackAddress(h.Address) && hostPortProblem(h.Address, true) == "" {
		add("Http.Address", h.Address, "is reachable from other machines, so the API must serve TLS: set Http.TLSAuto (a self-signed certificate clients pin) or Http.TLSCertFile and Http.TLSKeyFile; or, to accept that anyone on the network path can read and alter the traffic, Http.AllowInsecure")
	}
	return ps
}

// loopbackAddress reports whether host:port names only this machine: a
// loopback IP or "localhost". An empty or wildcard host listens on every
// interface, and any other name may resolve to one others reach.
func loopbackAddress(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
