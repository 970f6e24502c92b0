package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/entgldb/entgldb-go/adapters/apikeys"
	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/client"
	"github.com/entgldb/entgldb-go/domain"
	"github.com/entgldb/entgldb-go/ports"
)

// EnvAPIKey is the environment variable the CLI takes its API key from
// when --key is not given.
const EnvAPIKey = "ENTGLDB_API_KEY"

// nodeClient is the client of the node named by the root's --node flag:
// its certificate trusted as --pin/--ca say (tlsOptions), the key from
// --key and the places apiKey looks.
func nodeClient(root *cobra.Command) *client.Client {
	pf := root.PersistentFlags()
	addr, _ := pf.GetString("node")
	pin, _ := pf.GetString("pin")
	ca, _ := pf.GetString("ca")
	flagKey, _ := pf.GetString("key")
	local := &localNode{}
	addr, opts := tlsOptions(local, addr, pin, ca)
	c := client.New(addr, opts...)
	key, err := apiKey(flagKey, c.Base(), os.Getenv(EnvAPIKey), local.adminKeyPath)
	if err != nil { // the node will answer 401; say why no key was sent
		fmt.Fprintf(root.ErrOrStderr(), "warning: %s\n", domain.Message(err))
	}
	if key == "" {
		return c
	}
	return client.New(addr, append(opts, client.WithKey(key))...)
}

// apiKey picks the key to send: --key, else $ENTGLDB_API_KEY, else, for a
// node on this machine (a loopback address), the admin key file of the
// node configured here. The file is never sent to another machine's node:
// its key would then reach whoever runs that address.
func apiKey(flagKey, base, envKey string, adminKeyPath func() string) (string, error) {
	switch {
	case flagKey != "":
		return flagKey, nil
	case envKey != "":
		return envKey, nil
	case !loopbackURL(base):
		return "", nil
	}
	path := adminKeyPath()
	if path == "" {
		return "", nil
	}
	key, err := apikeys.ReadAdminKey(path)
	if errors.Is(err, domain.ErrNotFound) {
		return "", nil
	}
	return key, err
}

// localNode is the node configured in the working directory
// (./appsettings.json, ENTGLDB__ variables, defaults), as `entgldb serve`
// run here would be; its configuration is loaded once, when first needed.
type localNode struct {
	loaded bool
	cfg    config.Config
	err    error
}

func (n *localNode) config() (config.Config, bool) {
	if !n.loaded {
		n.cfg, n.err = config.Load(config.FindFile(""), os.Environ(), nil)
		n.loaded = true
	}
	return n.cfg, n.err == nil
}

// adminKeyPath is the local node's admin key file ("" when its
// configuration does not load).
func (n *localNode) adminKeyPath() string {
	cfg, ok := n.config()
	if !ok {
		return ""
	}
	return cfg.AdminKeyPath()
}

// keyHint says where the CLI looks for a key, for a node that refused it.
const keyHint = "pass --key KEY or set " + EnvAPIKey + "; for a node on this machine the CLI reads its admin key itself " +
	"(admin.key beside the database, found through ./appsettings.json: run it in the node's directory)"

func addKeysCommands(root *cobra.Command) {
	root.PersistentFlags().String("key", "", "API key (default $"+EnvAPIKey+", else the local node's admin key file)")

	keys := &cobra.Command{
		Use:   "keys",
		Short: "Make, list and revoke the node's API keys (needs the admin key)",
		Args:  checkArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var name string
	var scopes []string
	create := &cobra.Command{
		Use:   "create --name NAME --scope SCOPE[,SCOPE...]",
		Short: "Make a key and print it (shown only now); scopes: COLLECTION:r, COLLECTION:rw, *:r, *:rw, metrics, admin",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || len(scopes) == 0 {
				return usageErr("keys create needs --name NAME and --scope SCOPE[,SCOPE...]")
			}
			k, err := nodeClient(root).CreateKey(cmd.Context(), name, scopes)
			if err != nil {
				return nodeErr(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), k.Secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "key %s (%s), scopes %s: keep it now, the node keeps only its hash\n",
				k.ID, k.Name, strings.Join(k.Scopes, ","))
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for ([A-Za-z0-9_.-], up to 64)")
	create.Flags().StringSliceVar(&scopes, "scope", nil, "scopes, comma-separated or repeated")
	keys.AddCommand(create)

	keys.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the keys made on the node (never their secrets)",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := nodeClient(root).Keys(cmd.Context())
			if err != nil {
				return nodeErr(err)
			}
			return printKeys(cmd.OutOrStdout(), list)
		},
	})
	keys.AddCommand(&cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key: the node refuses it from the next request on",
		Args:  checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nodeClient(root).RevokeKey(cmd.Context(), args[0]); err != nil {
				return nodeErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	})
	root.AddCommand(keys)
}

func printKeys(w io.Writer, keys []ports.APIKey) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tLAST USED")
	for _, k := range keys {
		last := "-"
		if !k.LastUsed.IsZero() {
			last = k.LastUsed.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.CreatedAt.UTC().Format(time.RFC3339), last)
	}
	return tw.Flush()
}
