// Package tlscert is the HTTP API's TLS certificate: a certificate and key
// the operator gives as PEM files, or a self-signed one the node makes once
// and keeps beside its database. Everything here is the standard library's
// crypto (crypto/x509, crypto/ecdsa, crypto/tls); nothing is hand-rolled.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
)

// Validity of a self-signed certificate. Clients pin its fingerprint rather
// than trust a CA, so an expiry would only break every pinned client at
// once; renewal is deleting the two files (and re-pinning).
const Validity = 20 * 365 * 24 * time.Hour

// Cert is the certificate the API serves.
type Cert struct {
	TLS tls.Certificate
	// Fingerprint is the SHA-256 of the leaf certificate's DER bytes, in the
	// form clients pin (client.Fingerprint).
	Fingerprint string
	// CertFile and KeyFile are where it was read from.
	CertFile, KeyFile string
}

// Load reads a certificate chain and its key from PEM files (Http.
// TLSCertFile, Http.TLSKeyFile). Problems are CONFIG_ERROR.
func Load(certFile, keyFile string) (Cert, error) {
	const op = "tlscert.Load"
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return Cert{}, domain.Errorf(domain.CodeConfig, op, "TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	return Cert{TLS: pair, Fingerprint: client.Fingerprint(pair.Certificate[0]), CertFile: certFile, KeyFile: keyFile}, nil
}

// LoadOrCreateSelfSigned returns the self-signed certificate kept in
// certFile and keyFile, making it first when neither exists (created says
// so): ECDSA P-256, valid for Validity, for the names hosts (IP addresses
// become IP SANs). The key is written 0600, the directory made 0700, and a
// kept key that others may read is refused, as ssh refuses such keys. Of two
// processes starting at once, one makes the pair and the other reads it.
func LoadOrCreateSelfSigned(certFile, keyFile string, hosts []string) (c Cert, created bool, err error) {
	const op = "tlscert.LoadOrCreateSelfSigned"
	_, certErr := os.Stat(certFile)
	_, keyErr := os.Stat(keyFile)
	switch {
	case certErr == nil && keyErr == nil:
		c, err = loadPrivate(certFile, keyFile)
		return c, false, err
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
	case certErr == nil || keyErr == nil:
		return Cert{}, false, domain.Errorf(domain.CodeConfig, op,
			"only one of %s and %s exists: remove it to have a new self-signed certificate made (clients must then pin the new fingerprint)", certFile, keyFile)
	default:
		return Cert{}, false, domain.Errorf(domain.CodeConfig, op, "TLS files %s, %s: %w", certFile, keyFile, errors.Join(certErr, keyErr))
	}
	certPEM, keyPEM, err := selfSigned(hosts, time.Now())
	if err != nil {
		return Cert{}, false, err
	}
	if err := writePair(certFile, certPEM, keyFile, keyPEM); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process made it first
			c, err = loadPrivate(certFile, keyFile)
			return c, false, err
		}
		return Cert{}, false, err
	}
	c, err = Load(certFile, keyFile)
	return c, err == nil, err
}

// loadPrivate loads a kept self-signed pair, refusing a key others may read.
func loadPrivate(certFile, keyFile string) (Cert, error) {
	if st, err := os.Stat(keyFile); err == nil && runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return Cert{}, domain.Errorf(domain.CodeConfig, "tlscert.Load",
			"TLS key %s has mode %04o: others may read it; run chmod 600 on it (or delete both tls files if it leaked)", keyFile, st.Mode().Perm())
	}
	return Load(certFile, keyFile)
}

// selfSigned makes a P-256 key and a certificate for hosts signed by it.
func selfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	const op = "tlscert.selfSigned"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, domain.Errorf(domain.CodeInternal, op, "generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, domain.Errorf(domain.CodeInternal, op, "serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"entgldb"}, CommonName: "entgldb node"},
		// An hour back tolerates clients whose clocks run a little slow.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if h != "" && !slices.Contains(tmpl.DNSNames, h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, domain.Errorf(domain.CodeInternal, op, "signing certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, domain.Errorf(domain.CodeInternal, op, "encoding key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// ReadFingerprint is the fingerprint of the first certificate of the PEM
// file at certFile, without its key: what `entgldb tls fingerprint` prints
// and what the local CLI pins.
func ReadFingerprint(certFile string) (string, error) {
	const op = "tlscert.ReadFingerprint"
	data, err := os.ReadFile(certFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", domain.Errorf(domain.CodeNotFound, op, "no TLS certificate at %s", certFile)
		}
		return "", domain.Errorf(domain.CodeConfig, op, "reading %s: %w", certFile, err)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return "", domain.Errorf(domain.CodeConfig, op, "%s holds no PEM certificate", certFile)
		}
		if block.Type == "CERTIFICATE" {
			return client.Fingerprint(block.Bytes), nil
		}
	}
}

// writePair writes the key, then the certificate, each to a temporary file
// linked into place, so a crash leaves no half-written file and an existing
// one is never replaced (fs.ErrExist then).
func writePair(certFile string, certPEM []byte, keyFile string, keyPEM []byte) error {
	if err := linkNew(keyFile, keyPEM); err != nil {
		return err
	}
	return linkNew(certFile, certPEM)
}

func linkNew(path string, data []byte) error {
	const op = "tlscert.write"
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return domain.Errorf(domain.CodeConfig, op, "creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".tls-*.tmp") // 0600
	if err != nil {
		return domain.Errorf(domain.CodeConfig, op, "creating a file in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return domain.Errorf(domain.CodeConfig, op, "writing %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return domain.Errorf(domain.CodeConfig, op, "%s: %w", path, err)
	}
	return nil
}

// ServerConfig is the API's TLS configuration for c: TLS 1.2 at least (Go's
// default cipher suites for it are the forward-secret AEAD ones), and
// HTTP/1.1 only, so one connection carries one request at a time and the
// connection cap (Http.MaxConnections) keeps bounding concurrent requests.
func ServerConfig(c Cert) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.TLS},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}
