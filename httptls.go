package entgldb

import (
	"os"

	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/httpapi"
	"github.com/entgldb/entgldb-go/adapters/tlscert"
)

// HTTPCertificate is the certificate the HTTP API of the node configured by
// cfg serves: nil with TLS off; the configured files (Http.TLSCertFile,
// Http.TLSKeyFile); or the self-signed one kept beside the database
// (Http.TLSAuto), made at the first start (created says so). Its
// Fingerprint is what clients pin.
func HTTPCertificate(cfg Config) (cert *tlscert.Cert, created bool, err error) {
	certFile, keyFile := cfg.TLSFiles()
	var c tlscert.Cert
	switch {
	case !cfg.Http.TLSEnabled():
		return nil, false, nil
	case cfg.Http.TLSCertFile != "":
		c, err = tlscert.Load(certFile, keyFile)
	default:
		c, created, err = tlscert.LoadOrCreateSelfSigned(certFile, keyFile, certHosts(cfg))
	}
	if err != nil {
		return nil, false, err
	}
	return &c, created, nil
}

// certHosts are the names a self-signed certificate is made for: those the
// API answers (the loopback names, the address's host, Http.AllowedHosts)
// and the machine's host name. Clients that pin ignore them; they serve
// clients that trust the file as a CA (--ca).
func certHosts(cfg Config) []string {
	hosts := httpapi.AllowedHosts(cfg.Http.Address, cfg.Http.AllowedHosts)
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, name)
	}
	return hosts
}

// serveTLS makes srv serve HTTPS when cfg says so, logging the certificate's
// fingerprint for clients to pin, and warns when the API serves plain HTTP
// where others can reach it (Http.AllowInsecure).
func serveTLS(srv *httpapi.Server, cfg config.Config, logger *zap.Logger) error {
	if cfg.InsecureHTTP() {
		logger.Warn("INSECURE HTTP: Http.AllowInsecure is on, so the HTTP API serves plain HTTP on a non-loopback address: anyone on the network path can read and alter requests and answers, API keys included; set Http.TLSAuto or Http.TLSCertFile/TLSKeyFile",
			zap.String("address", cfg.Http.Address))
	}
	cert, created, err := HTTPCertificate(cfg)
	if err != nil || cert == nil {
		return err
	}
	if created {
		logger.Info("created a self-signed TLS certificate for the HTTP API",
			zap.String("cert_file", cert.CertFile), zap.String("key_file", cert.KeyFile))
	}
	logger.Info("HTTP API serves TLS; clients pin this certificate fingerprint (SHA-256)",
		zap.String("fingerprint", cert.Fingerprint), zap.String("cert_file", cert.CertFile))
	srv.SetTLS(tlscert.ServerConfig(*cert))
	return nil
}
