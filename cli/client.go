package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/store"
)

const clientUsage = `usage:
  keyward client create [store flags] --name NAME --redirect-uri URI [--redirect-uri URI…]
                        [--grant-type T…] [--auth-method M] [--scope "a b"] [--native] [--id ID] [--dev]
  keyward client list   [store flags]
  keyward client get    [store flags] CLIENT_ID
  keyward client delete [store flags] CLIENT_ID
`

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runClient(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, clientUsage)
		return flag.ErrHelp
	}
	sub := args[0]
	var bools map[string]string
	if sub == "create" {
		bools = clientBoolFlags
	}
	cf := newConfigFlags("client "+sub, stderr, storeStringFlags, bools)
	var redirects, grants multiFlag
	var name, method, scope, id *string
	var native *bool
	if sub == "create" {
		cf.fs.Var(&redirects, "redirect-uri", "redirect URI (repeatable)")
		cf.fs.Var(&grants, "grant-type", "grant type (repeatable; default authorization_code, refresh_token)")
		name = cf.fs.String("name", "", "client name")
		method = cf.fs.String("auth-method", "client_secret_basic", "token_endpoint_auth_method")
		scope = cf.fs.String("scope", "", "registered scope, space separated")
		id = cf.fs.String("id", "", "preferred client ID (default: random)")
		native = cf.fs.Bool("native", false, "register a native application")
	}
	admin, err := cf.openAdmin(ctx, args[1:], environ, stderr, bools)
	if err != nil {
		return err
	}
	defer admin.Close()

	switch sub {
	case "create":
		md := store.ClientMetadata{
			ClientName:              *name,
			RedirectURIs:            redirects,
			GrantTypes:              grants,
			TokenEndpointAuthMethod: *method,
			Scope:                   *scope,
		}
		if len(md.GrantTypes) == 0 {
			md.GrantTypes = []string{"authorization_code", "refresh_token"}
		}
		if *native {
			md.ApplicationType = "native"
		}
		reg, err := admin.Clients.Create(ctx, md, clientreg.CreateOptions{PreferredID: *id})
		if err != nil {
			return err
		}
		return printJSON(stdout, reg)
	case "list":
		after := ""
		for {
			page, err := admin.Clients.List(ctx, after, 500)
			if err != nil {
				return err
			}
			for _, c := range page {
				fmt.Fprintf(stdout, "%s\t%s\n", c.ClientID, c.Metadata.ClientName)
			}
			if len(page) < 500 {
				return nil
			}
			after = page[len(page)-1].ClientID
		}
	case "get", "delete":
		if cf.fs.NArg() != 1 {
			return fmt.Errorf("client %s: want one CLIENT_ID", sub)
		}
		if sub == "delete" {
			if err := admin.Clients.Delete(ctx, cf.fs.Arg(0), clientreg.AsOperator()); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "deleted", cf.fs.Arg(0))
			return nil
		}
		reg, err := admin.Clients.Read(ctx, cf.fs.Arg(0), clientreg.AsOperator())
		if err != nil {
			return err
		}
		return printJSON(stdout, reg)
	default:
		fmt.Fprint(stderr, clientUsage)
		return fmt.Errorf("unknown client command %q", sub)
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
