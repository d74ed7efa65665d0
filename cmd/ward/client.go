package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/server"
	"ward/internal/store"
)

// maxJWKSFile bounds what --jwks reads; the registry refuses larger sets.
const maxJWKSFile = 64 << 10

func (a *app) clientCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Administer OAuth2 clients (acting as the system)",
	}
	cmd.AddCommand(a.clientCreateCmd(), a.clientListCmd(),
		a.clientToggleCmd("disable", "Stop a client from obtaining tokens", true),
		a.clientToggleCmd("enable", "Let a disabled client obtain tokens again", false),
		a.clientRotateCmd(), a.clientApproveCmd())
	return cmd
}

// issuedJSON is what create and rotate-secret print with --json; a client
// that uses no secret (a public one) has no client_secret member, rather
// than an empty one a script could take for a secret.
type issuedJSON struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
}

func (a *app) printIssued(format string, c *client.Client, secret, verb string) error {
	switch format {
	case formatJSON:
		enc := json.NewEncoder(a.stdout)
		if err := enc.Encode(issuedJSON{ClientID: c.ID, ClientSecret: secret}); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	case formatEnv:
		// A public client unsets CLIENT_SECRET, so an earlier client's
		// secret is not sent with this client's id.
		return envLines(a.stdout, [2]string{"CLIENT_ID", c.ID}, [2]string{"CLIENT_SECRET", secret})
	}
	fmt.Fprintf(a.stdout, "%s client %s (%s)\n", verb, c.ID, c.Name)
	if secret != "" {
		fmt.Fprintf(a.stdout, "client_secret: %s\n(shown once: store it now; ward keeps only a keyed hash)\n", secret)
	}
	return nil
}

func (a *app) clientCreateCmd() *cobra.Command {
	var (
		set                  client.Settings
		jwksFile, owner      string
		out                  outputFlags
		grants, redirectURIs []string
	)
	cmd := &cobra.Command{
		Use:   `create --name N --grant G... --scope "S..." [--redirect-uri U...] [--public] [--jwks-uri U | --jwks FILE] [--token-format opaque|jwt] [--id-token-alg RS256|ES256] [--resource-server] [--json | --format env]`,
		Short: "Register a client; its secret (if it uses one) is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := out.resolve(cmd)
			if err != nil {
				return err
			}
			set.GrantTypes, set.RedirectURIs = grants, redirectURIs
			if jwksFile != "" {
				b, err := readSmallFile(jwksFile, maxJWKSFile)
				if err != nil {
					return fmt.Errorf("--jwks: %w", err)
				}
				set.JWKS = string(b)
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				ctx := actor.System(cmd.Context())
				if owner != "" {
					u, err := userByEmail(ctx, svc.Directory, owner)
					if err != nil {
						return fmt.Errorf("--owner: %w", err)
					}
					set.OwnerID = u.ID
				}
				c, secret, err := svc.Clients.Create(ctx, set)
				if err != nil {
					return fmt.Errorf("create client: %w", err)
				}
				return a.printIssued(format, c, secret, "created")
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&set.Name, "name", "", "display name (required)")
	f.StringSliceVar(&grants, "grant", nil, "grant type (repeatable or comma-separated): authorization_code, refresh_token, client_credentials")
	f.StringVar(&set.Scope, "scope", "", `space-separated scopes the client may ask for (required), e.g. "openid patient/*.rs"`)
	f.StringArrayVar(&redirectURIs, "redirect-uri", nil, "redirect URI, matched exactly (repeatable; needed for authorization_code)")
	f.BoolVar(&set.Public, "public", false, "a public client (no secret; auth method none, PKCE)")
	f.StringVar(&set.AuthMethod, "auth-method", "", "token endpoint auth method (default: none if --public, private_key_jwt with keys, else client_secret_basic)")
	f.StringVar(&set.JWKSURI, "jwks-uri", "", "URL of the client's JSON Web Key Set (private_key_jwt)")
	f.StringVar(&jwksFile, "jwks", "", "file holding the client's JSON Web Key Set inline (private_key_jwt)")
	f.StringVar(&set.TokenFormat, "token-format", client.TokenOpaque, "access token format: opaque or jwt")
	f.StringVar(&set.IDTokenAlg, "id-token-alg", client.IDTokenRS256, "ID token signing algorithm (id_token_signed_response_alg): RS256 or ES256")
	f.StringVar(&owner, "owner", "", "email of the application developer who will manage the client")
	f.StringVar(&set.Intervention, "intervention", "", "name of the intervention the client serves")
	f.BoolVar(&set.ResourceServer, "resource-server", false, "let the client introspect tokens issued to any client (a confidential client only)")
	out.register(cmd, `: CLIENT_ID and CLIENT_SECRET; --json prints {"client_id":…,"client_secret":…}`)
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("grant")
	_ = cmd.MarkFlagRequired("scope")
	return cmd
}

// readSmallFile reads at most limit bytes of path, refusing larger files.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// clientListJSON is one client as list --json prints it.
type clientListJSON struct {
	ClientID     string   `json:"client_id"`
	Name         string   `json:"client_name"`
	Public       bool     `json:"public"`
	GrantTypes   []string `json:"grant_types"`
	RedirectURIs []string `json:"redirect_uris"`
	Scope        string   `json:"scope"`
	AuthMethod   string   `json:"token_endpoint_auth_method"`
	TokenFormat  string   `json:"access_token_format"`
	IDTokenAlg   string   `json:"id_token_signed_response_alg"`
	Disabled     bool     `json:"disabled"`
	Status       string   `json:"status"`
	OwnerID      int64    `json:"owner_id,omitempty"`
	Intervention string   `json:"intervention,omitempty"`
	// ResourceServer: the client may introspect every client's tokens.
	ResourceServer bool `json:"resource_server,omitempty"`
}

// toClientJSON is c as list, enable and disable print it with --json.
func toClientJSON(c *client.Client) clientListJSON {
	out := clientListJSON{ClientID: c.ID, Name: c.Name, Public: c.Public,
		GrantTypes: c.GrantTypes, RedirectURIs: c.RedirectURIs, Scope: c.Scope,
		AuthMethod: c.AuthMethod, TokenFormat: c.TokenFormat, IDTokenAlg: c.IDTokenSigningAlg(), Disabled: c.Disabled,
		Status: c.Status, OwnerID: c.OwnerID, Intervention: c.Intervention, ResourceServer: c.ResourceServer}
	if out.RedirectURIs == nil {
		out.RedirectURIs = []string{}
	}
	return out
}

func (a *app) clientListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List every registered client",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				ctx := actor.System(cmd.Context())
				all, err := allPages(func(p store.Page) ([]*client.Client, string, error) {
					return svc.Clients.List(ctx, client.Filter{}, p)
				})
				if err != nil {
					return fmt.Errorf("list clients: %w", err)
				}
				if asJSON {
					out := make([]clientListJSON, len(all))
					for i, c := range all {
						out[i] = toClientJSON(c)
					}
					if err := json.NewEncoder(a.stdout).Encode(out); err != nil {
						return fmt.Errorf("write output: %w", err)
					}
					return nil
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CLIENT_ID\tNAME\tSTATUS\tTYPE\tAUTH\tGRANTS\tAPPROVAL\tID_TOKEN")
				for _, c := range all {
					status, typ := "enabled", "confidential"
					if c.Disabled {
						status = "disabled"
					}
					if c.Public {
						typ = "public"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, status, typ, c.AuthMethod,
						strings.Join(c.GrantTypes, ","), c.Status, c.IDTokenSigningAlg())
				}
				if err := tw.Flush(); err != nil {
					return fmt.Errorf("write output: %w", err)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the clients as a JSON array")
	return cmd
}

func (a *app) clientToggleCmd(verb, short string, disable bool) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   verb + " CLIENT_ID [--json]",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				ctx := actor.System(cmd.Context())
				toggle := svc.Clients.Enable
				if disable {
					toggle = svc.Clients.Disable
				}
				c, err := toggle(ctx, args[0])
				if err != nil {
					return fmt.Errorf("%s client %s: %w", verb, args[0], err)
				}
				if asJSON {
					return a.printJSON(toClientJSON(c))
				}
				fmt.Fprintf(a.stdout, "%sd client %s (%s)\n", verb, c.ID, c.Name)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the client as JSON (as list --json prints each)")
	return cmd
}

func (a *app) clientRotateCmd() *cobra.Command {
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID [--json | --format env]",
		Short: "Issue a new client secret (printed once); the old one stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := out.resolve(cmd)
			if err != nil {
				return err
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				c, secret, err := svc.Clients.RotateSecret(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("rotate secret of client %s: %w", args[0], err)
				}
				return a.printIssued(format, c, secret, "new secret for")
			})
		},
	}
	out.register(cmd, `: CLIENT_ID and CLIENT_SECRET; --json prints {"client_id":…,"client_secret":…}`)
	return cmd
}

// clientApproveCmd is an administrator's approval of an application
// developer's pending client (the CLI acts as ward itself).
func (a *app) clientApproveCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "approve CLIENT_ID [--json]",
		Short: "Approve a pending client, so anyone may authorize it (pending -> active)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				c, err := svc.Clients.Approve(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("approve client %s: %w", args[0], err)
				}
				if asJSON {
					return a.printJSON(toClientJSON(c))
				}
				fmt.Fprintf(a.stdout, "client %s (%s) is %s\n", c.ID, c.Name, c.Status)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the client as JSON (as list --json prints each)")
	return cmd
}
