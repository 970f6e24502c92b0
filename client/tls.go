package client

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/entgldb/entgldb-go/domain"
)

// Fingerprint is how a certificate is pinned: the SHA-256 of its DER bytes
// in upper-case hex pairs joined by colons ("AB:CD:..."), as
// `openssl x509 -noout -fingerprint -sha256` prints it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return formatFingerprint(sum[:])
}

func formatFingerprint(sum []byte) string {
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = strings.ToUpper(hex.EncodeToString([]byte{b}))
	}
	return strings.Join(parts, ":")
}

// ParseFingerprint reads a pinned fingerprint: 64 hex digits, in either
// case, with or without colons (and an optional "sha256:" prefix); it
// returns the canonical form of Fingerprint.
func ParseFingerprint(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) > 7 && strings.EqualFold(t[:7], "sha256:") {
		t = t[7:]
	}
	t = strings.ReplaceAll(t, ":", "")
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != sha256.Size {
		return "", domain.Errorf(domain.CodeInvalidArgument, "client.ParseFingerprint",
			"a certificate fingerprint is 64 hex digits (SHA-256, colons optional, as `entgldb tls fingerprint` prints it); got %q", s)
	}
	return formatFingerprint(b), nil
}

// PinMismatchError is a node whose certificate is not the pinned one: a
// different node, a replaced certificate, or someone in between.
type PinMismatchError struct {
	Want, Got string // fingerprints
}

func (e *PinMismatchError) Error() string {
	return fmt.Sprintf("the node's TLS certificate has fingerprint %s, not the pinned %s: if the node's certificate was replaced, compare with `entgldb tls fingerprint` on the node before pinning the new one", e.Got, e.Want)
}

// WithPin trusts exactly the certificate with this fingerprint (the node's
// self-signed one, printed at its start), whatever names it holds. A
// malformed fingerprint makes every request fail with INVALID_ARGUMENT.
func WithPin(fingerprint string) Option {
	return func(c *Client) {
		fp, err := ParseFingerprint(fingerprint)
		if err != nil {
			c.tlsErr = err
			return
		}
		c.pin = fp
	}
}

// WithCA trusts the node's certificate when a CA of the PEM file caFile
// signed it (a CA-issued certificate, Http.TLSCertFile), names checked as a
// browser checks them. A file that cannot be read makes every request fail
// with INVALID_ARGUMENT.
func WithCA(caFile string) Option {
	return func(c *Client) {
		data, err := os.ReadFile(caFile)
		if err != nil {
			c.tlsErr = domain.Errorf(domain.CodeInvalidArgument, "client.WithCA", "reading CA file: %w", err)
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			c.tlsErr = domain.Errorf(domain.CodeInvalidArgument, "client.WithCA", "%s holds no PEM certificate", caFile)
			return
		}
		c.roots = pool
	}
}

// applyTLS gives the client's transport the pin or the CA, once every
// option is applied (so WithHTTPClient in any order keeps them).
func (c *Client) applyTLS() {
	if c.pin == "" && c.roots == nil {
		return
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.roots}
	if c.pin != "" {
		// Pinning a self-signed certificate: no CA vouches for it, so Go's
		// chain and name verification (InsecureSkipVerify turns off exactly
		// that) is replaced by comparing the certificate the node proves it
		// holds the key of with the pinned fingerprint. The handshake still
		// checks that proof; only the pinned certificate is accepted.
		want := c.pin
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return &PinMismatchError{Want: want, Got: "(none)"}
			}
			if got := Fingerprint(raw[0]); got != want {
				return &PinMismatchError{Want: want, Got: got}
			}
			return nil
		}
	}
	var tr *http.Transport
	if t, ok := c.http.Transport.(*http.Transport); ok {
		tr = t.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.TLSClientConfig = cfg
	hc := *c.http
	hc.Transport = tr
	c.http = &hc
}
