package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/connector"
	"ward/internal/server"
)

func (a *app) connectorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connector",
		Short: "Administer connectors to external systems (acting as the system)",
		Long: "A connector is ward's OAuth link to an external system (the MIS of seed 000). After create, an " +
			"administrator opens /admin/connectors/NAME/connect in a browser to prime it (docs/connectors.md).",
	}
	cmd.AddCommand(a.connectorCreateCmd(), a.connectorListCmd(), a.connectorShowCmd(), a.connectorDeleteCmd())
	return cmd
}

// connectorOut is a connector as --json prints it: never a secret or token.
type connectorOut struct {
	Name          string     `json:"name"`
	BaseURL       string     `json:"base_url"`
	AuthorizeURL  string     `json:"authorize_url"`
	TokenURL      string     `json:"token_url"`
	ClientID      string     `json:"client_id"`
	RedirectURI   string     `json:"redirect_uri"`
	Scopes        []string   `json:"scopes"`
	ProfileSystem string     `json:"profile_system"`
	Status        string     `json:"status"`
	Expiry        *time.Time `json:"token_expiry,omitempty"`
	LastRefresh   *time.Time `json:"last_refresh,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	Version       int64      `json:"version"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toConnectorOut(c *connector.Connector) connectorOut {
	return connectorOut{Name: c.Name, BaseURL: c.BaseURL, AuthorizeURL: c.AuthorizeURL, TokenURL: c.TokenURL,
		ClientID: c.ClientID, RedirectURI: c.RedirectURI, Scopes: c.Scopes, ProfileSystem: c.EffectiveProfileSystem(),
		Status: string(c.Status), Expiry: optTime(c.Expiry), LastRefresh: optTime(c.LastRefresh), LastError: c.LastError, Version: c.Version}
}

func (a *app) writeJSON(v any) error {
	if err := json.NewEncoder(a.stdout).Encode(v); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func (a *app) connectorCreateCmd() *cobra.Command {
	var (
		s          connector.Settings
		secretFile string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use: "create --name N --base-url U --authorize-url U --token-url U --client-id X " +
			"(--client-secret S | --client-secret-file F) --redirect-uri U [--scope S ...] [--profile-system URI] [--json]",
		Short: "Create an unprimed connector; the client secret is stored encrypted and never printed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ch := cmd.Flags().Changed
			if ch("client-secret") == ch("client-secret-file") {
				return fmt.Errorf("give --client-secret or --client-secret-file (kept out of the process list), one of them")
			}
			if ch("client-secret-file") {
				b, err := readSmallFile(secretFile, 4096)
				if err != nil {
					return fmt.Errorf("--client-secret-file: %w", err)
				}
				s.ClientSecret = strings.TrimRight(string(b), "\r\n")
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				c, err := svc.Connectors.Create(actor.System(cmd.Context()), s)
				if err != nil {
					return fmt.Errorf("create connector: %w", err)
				}
				if asJSON {
					return a.writeJSON(toConnectorOut(c))
				}
				fmt.Fprintf(a.stdout, "created connector %s (unprimed): an administrator primes it at /admin/connectors/%s/connect\n",
					c.Name, c.Name)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&s.Name, "name", "", "the connector's name (lower-case letters, digits, _ . -)")
	fl.StringVar(&s.BaseURL, "base-url", "", "the remote API's base URL (https)")
	fl.StringVar(&s.AuthorizeURL, "authorize-url", "", "the remote's OAuth authorize URL")
	fl.StringVar(&s.TokenURL, "token-url", "", "the remote's OAuth token URL")
	fl.StringVar(&s.ClientID, "client-id", "", "ward's client id at the remote")
	fl.StringVar(&s.ClientSecret, "client-secret", "", "ward's client secret at the remote")
	fl.StringVar(&secretFile, "client-secret-file", "", "file holding the client secret")
	fl.StringVar(&s.RedirectURI, "redirect-uri", "", "ward's https://HOST/admin/connectors/NAME/callback, as registered at the remote")
	fl.StringArrayVar(&s.Scopes, "scope", nil, "a scope to ask for (repeat for several)")
	fl.StringVar(&s.ProfileSystem, "profile-system", "",
		"identifier system holding a person's profile id at the remote (default urn:ward:connector:NAME:profile)")
	fl.BoolVar(&asJSON, "json", false, "print the connector as JSON")
	return cmd
}

func (a *app) connectorListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List connectors with their status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				cs, err := svc.Connectors.List(actor.System(cmd.Context()))
				if err != nil {
					return fmt.Errorf("list connectors: %w", err)
				}
				if asJSON {
					out := make([]connectorOut, len(cs))
					for i, c := range cs {
						out[i] = toConnectorOut(c)
					}
					return a.writeJSON(out)
				}
				w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tSTATUS\tEXPIRY\tBASE URL")
				for _, c := range cs {
					exp := "-"
					if !c.Expiry.IsZero() {
						exp = c.Expiry.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Name, c.Status, exp, c.BaseURL)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}

func (a *app) connectorShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME [--json]",
		Short: "Show a connector's settings and status (never a secret or token)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				c, err := svc.Connectors.Get(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("show connector: %w", err)
				}
				o := toConnectorOut(c)
				if asJSON {
					return a.writeJSON(o)
				}
				fmtTime := func(t *time.Time) string {
					if t == nil {
						return "-"
					}
					return t.UTC().Format(time.RFC3339)
				}
				w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				for _, row := range [][2]string{{"name", o.Name}, {"status", o.Status}, {"base_url", o.BaseURL},
					{"authorize_url", o.AuthorizeURL}, {"token_url", o.TokenURL}, {"client_id", o.ClientID},
					{"redirect_uri", o.RedirectURI}, {"scopes", strings.Join(o.Scopes, " ")}, {"profile_system", o.ProfileSystem},
					{"token_expiry", fmtTime(o.Expiry)}, {"last_refresh", fmtTime(o.LastRefresh)},
					{"last_error", o.LastError}, {"version", fmt.Sprint(o.Version)}} {
					fmt.Fprintf(w, "%s\t%s\n", row[0], row[1])
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the connector as JSON")
	return cmd
}

func (a *app) connectorDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a connector with its tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				if err := svc.Connectors.Delete(actor.System(cmd.Context()), args[0]); err != nil {
					return fmt.Errorf("delete connector: %w", err)
				}
				fmt.Fprintf(a.stdout, "deleted connector %s\n", args[0])
				return nil
			})
		},
	}
}
