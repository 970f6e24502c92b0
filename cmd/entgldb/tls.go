package main

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/tlscert"
	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
)

// addTLSFlags adds the client commands' TLS settings: a pinned certificate
// fingerprint or a CA file (read by nodeClient).
func addTLSFlags(root *cobra.Command) {
	pf := root.PersistentFlags()
	pf.String("pin", "", "trust the node's certificate with this SHA-256 fingerprint (default $ENTGLDB_PIN; the local node's own certificate is pinned by itself)")
	pf.String("ca", "", "trust node certificates signed by a CA of this PEM file")
}

// tlsOptions returns the address of the node at addr (--node) and the
// client options that trust its certificate. With neither a pin nor a CA
// given, a node on this machine whose configuration (./appsettings.json,
// ENTGLDB__ variables) serves TLS is reached over HTTPS with its own
// certificate pinned, so the commands work with no flags, as with plain HTTP.
func tlsOptions(local *localNode, addr, pin, ca string) (string, []client.Option) {
	if addr == "" {
		addr = os.Getenv("ENTGLDB_NODE")
	}
	if pin == "" {
		pin = os.Getenv("ENTGLDB_PIN")
	}
	var opts []client.Option
	switch {
	case pin != "":
		opts = append(opts, client.WithPin(pin))
	case ca == "":
		if fp, localAddr, ok := local.tls(); ok && (addr == "" || loopbackURL(addr)) {
			if addr == "" {
				addr = localAddr
			}
			opts = append(opts, client.WithPin(fp))
		}
	}
	if ca != "" {
		opts = append(opts, client.WithCA(ca))
	}
	return addr, opts
}

// tls is the fingerprint and https:// address of the local node, when it
// serves TLS and its certificate file is readable. Any problem just means
// "no local TLS node".
func (n *localNode) tls() (fingerprint, addr string, ok bool) {
	cfg, found := n.config()
	if !found || !cfg.Http.Enabled || !cfg.Http.TLSEnabled() {
		return "", "", false
	}
	certFile, _ := cfg.TLSFiles()
	fp, err := tlscert.ReadFingerprint(certFile)
	if err != nil {
		return "", "", false
	}
	host, port, err := net.SplitHostPort(cfg.Http.Address)
	if err != nil || port == "0" {
		return "", "", false
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // a wildcard listens on loopback too
	}
	return fp, "https://" + net.JoinHostPort(host, port), true
}

// loopbackURL reports whether addr (host:port or a URL) names this machine.
func loopbackURL(addr string) bool {
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		addr = rest
	}
	addr, _, _ = strings.Cut(addr, "/")
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.Trim(host, "[]")
	ip := net.ParseIP(host)
	return strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback())
}

// printFingerprint prints, on stdout, the fingerprint of the certificate the
// node's HTTPS API serves (making the self-signed one first if need be), and
// how a client pins it.
func printFingerprint(cmd *cobra.Command, cfg config.Config) error {
	cert, created, err := entgldb.HTTPCertificate(cfg)
	if err != nil || cert == nil {
		return err
	}
	w := cmd.OutOrStdout()
	if created {
		fmt.Fprintf(w, "Created a self-signed TLS certificate for the HTTP API (%s).\n", cert.CertFile)
	}
	fmt.Fprintf(w, "HTTP API certificate fingerprint (SHA-256): %s\nClients on other machines pin it: entgldb --node https://HOST:PORT --pin %s ...\n",
		cert.Fingerprint, cert.Fingerprint)
	return nil
}

func addTLSCommand(root *cobra.Command) {
	tlsCmd := &cobra.Command{Use: "tls", Short: "The HTTP API's TLS certificate", Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
	var cfgPath, db, certFile string
	fp := &cobra.Command{
		Use:   "fingerprint [--config FILE] [--db PATH] [--cert FILE]",
		Short: "Print the SHA-256 fingerprint of the certificate this machine's node serves (what clients pin with --pin)",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if certFile == "" {
				overrides := map[string]any{}
				if cmd.Flags().Changed("db") {
					overrides[config.KeyDatabasePath] = db
				}
				cfg, err := config.Load(config.FindFile(cfgPath), os.Environ(), overrides)
				if err != nil {
					return err
				}
				if !cfg.Http.TLSEnabled() {
					return domain.Errorf(domain.CodeConfig, "tls fingerprint",
						"this node's HTTP API serves no TLS (set Http.TLSAuto, or Http.TLSCertFile and Http.TLSKeyFile)")
				}
				certFile, _ = cfg.TLSFiles()
			}
			out, err := tlscert.ReadFingerprint(certFile)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out)
			return nil
		},
	}
	fp.Flags().StringVar(&cfgPath, "config", "", "configuration file (default ./appsettings.json when present)")
	fp.Flags().StringVar(&db, "db", "", "database path (Persistence.DatabasePath): the self-signed certificate is kept beside it")
	fp.Flags().StringVar(&certFile, "cert", "", "read this PEM certificate file instead")
	tlsCmd.AddCommand(fp)
	root.AddCommand(tlsCmd)
}
