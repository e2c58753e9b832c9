package cli

import (
	"context"
	"flag"
	"io"
	"strings"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/node"
)

// configFlags registers the serve flags (docs/configuration.md) and
// returns a function that loads the configuration with the flags that were
// actually set on top of file and environment.
type configFlags struct {
	fs   *flag.FlagSet
	file *string
}

// stringFlags and boolFlags map flag names to config keys.
var (
	serveStringFlags = map[string]string{
		"listen": "listen", "issuer": "issuer", "data-dir": "data_dir", "store": "store", "redis": "redis",
		"api-token": "api_token", "users": "users", "master-key": "master_key", "admin-listen": "admin_listen",
		"tls-cert": "tls.cert", "tls-key": "tls.key", "tls-client-ca": "tls.client_ca",
	}
	storeStringFlags = map[string]string{
		"issuer": "issuer", "data-dir": "data_dir", "store": "store", "redis": "redis", "master-key": "master_key",
	}
	serveBoolFlags = map[string]string{"dev": "dev", "demo": "demo"}
	// clientBoolFlags: client create validates redirect URIs as serve
	// does, so --dev must match the deployment's.
	clientBoolFlags = map[string]string{"dev": "dev"}
)

var flagHelp = map[string]string{
	"listen":        "HTTP listen address (default :8080)",
	"issuer":        "issuer URL; all endpoint URLs derive from it (default http://localhost:8080)",
	"data-dir":      "directory for the embedded database and generated secrets, created mode 0700 (default ./keyward-data)",
	"store":         "durable store: sqlite://PATH or postgres://… (default sqlite://<data-dir>/keyward.db)",
	"redis":         "optional redis://… for short-lived objects in a cluster",
	"api-token":     "bearer token for the integration web APIs (default: generated on first start)",
	"users":         "users file (JSON or YAML) backing the login UI and claims",
	"master-key":    "base64 of 32 random bytes encrypting keys and secrets at rest (default: <data-dir>/master.key; serve and init generate it for a new store)",
	"admin-listen":  "move the integration web APIs to this listener",
	"dev":           "development mode: accept http:// loopback redirect URIs for web clients",
	"demo":          "seed demo users and a demo client (implies --dev)",
	"tls-cert":      "PEM certificate: terminate TLS on the listeners (with --tls-key)",
	"tls-key":       "PEM private key of --tls-cert",
	"tls-client-ca": "PEM CAs that tls_client_auth client certificates must chain to",
}

func newConfigFlags(name string, out io.Writer, strs, bools map[string]string) *configFlags {
	fs := flag.NewFlagSet("keyward "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	cf := &configFlags{fs: fs, file: fs.String("config", "", "YAML config file (also KEYWARD_CONFIG)")}
	for f := range strs {
		fs.String(f, "", flagHelp[f])
	}
	for f := range bools {
		fs.Bool(f, false, flagHelp[f])
	}
	return cf
}

// load builds the configuration after fs.Parse: defaults < file < env < set flags.
func (cf *configFlags) load(environ []string, strs, bools map[string]string) (config.Config, error) {
	set := map[string]any{}
	cf.fs.Visit(func(f *flag.Flag) {
		if key, ok := strs[f.Name]; ok {
			set[key] = f.Value.String()
		}
		if key, ok := bools[f.Name]; ok {
			set[key] = strings.EqualFold(f.Value.String(), "true")
		}
	})
	return config.Load(config.Sources{File: *cf.file, Environ: environ, Flags: set})
}

// openAdmin parses the store flags of an administrative command, loads the
// configuration and opens the existing stores and keys: it never creates a
// schema, a master key or signing keys (node.OpenExisting).
func (cf *configFlags) openAdmin(ctx context.Context, args, environ []string, stderr io.Writer, bools map[string]string) (*node.Node, error) {
	if err := cf.fs.Parse(args); err != nil {
		return nil, err
	}
	cfg, err := cf.load(environ, storeStringFlags, bools)
	if err != nil {
		return nil, err
	}
	return node.OpenExisting(ctx, cfg, newLogger(stderr, "warn"), time.Now)
}
