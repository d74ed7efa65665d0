package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/server"
	"ward/internal/store"
)

// idpClientCmd administers the system clients of the legacy IdP API (seed
// 003, docs/idp-api.md), acting as the system.
func (a *app) idpClientCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "idp-client",
		Short: "Administer the system clients of the legacy IdP API /api/1.0/sso (acting as the system)",
	}
	cmd.AddCommand(a.idpClientCreateCmd(), a.idpClientListCmd(), a.idpClientRotateCmd(), a.idpClientRevokeCmd())
	return cmd
}

// idpIssuedJSON is what create and rotate print with --json: the seed's
// names for the two headers a system sends.
type idpIssuedJSON struct {
	ClientID   string `json:"client_id"`
	XAuthToken string `json:"x_auth_token"`
}

// idpClientJSON is one system client as list and revoke print it.
type idpClientJSON struct {
	ClientID       string `json:"client_id"`
	Name           string `json:"name"`
	OrganizationID int64  `json:"organization_id,omitempty"`
	Revoked        bool   `json:"revoked"`
	CreatedAt      string `json:"created_at"`
}

func toIDPClientJSON(c *client.Client) idpClientJSON {
	return idpClientJSON{ClientID: c.ID, Name: c.Name, OrganizationID: c.OrganizationID, Revoked: c.Disabled,
		CreatedAt: c.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")}
}

func (a *app) printIDPIssued(asJSON bool, c *client.Client, token, verb string) error {
	if asJSON {
		if err := json.NewEncoder(a.stdout).Encode(idpIssuedJSON{ClientID: c.ID, XAuthToken: token}); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	fmt.Fprintf(a.stdout, "%s IdP system client %s (%s)\nX-Auth-Token: %s\n(shown once: store it now; ward keeps only a keyed hash)\n",
		verb, c.ID, c.Name, token)
	return nil
}

func (a *app) idpClientCreateCmd() *cobra.Command {
	var (
		name   string
		org    int64
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [--organization ID] [--json]",
		Short: "Register a system client; its API token (X-Auth-Token) is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				c, token, err := svc.Clients.CreateSystem(actor.System(cmd.Context()), name, org)
				if err != nil {
					return fmt.Errorf("create IdP system client: %w", err)
				}
				return a.printIDPIssued(asJSON, c, token, "created")
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", `display name, e.g. "SHR @ DGHS MIS" (required)`)
	cmd.Flags().Int64Var(&org, "organization", 0, "id of the organization the system registers as")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"client_id":…,"x_auth_token":…}`)
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (a *app) idpClientListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the system clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				ctx := actor.System(cmd.Context())
				cs, err := allPages(func(p store.Page) ([]*client.Client, string, error) {
					return svc.Clients.ListSystems(ctx, p)
				})
				if err != nil {
					return fmt.Errorf("list IdP system clients: %w", err)
				}
				out := make([]idpClientJSON, 0, len(cs))
				for _, c := range cs {
					out = append(out, toIDPClientJSON(c))
				}
				if asJSON {
					if err := json.NewEncoder(a.stdout).Encode(out); err != nil {
						return fmt.Errorf("write output: %w", err)
					}
					return nil
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CLIENT_ID\tNAME\tORGANIZATION\tREVOKED\tCREATED")
				for _, c := range out {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%s\n", c.ClientID, c.Name, c.OrganizationID, c.Revoked, c.CreatedAt)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) idpClientRotateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate CLIENT_ID [--json]",
		Short: "Replace a system client's API token (the old one stops working at once); printed once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				c, token, err := svc.Clients.RotateSystem(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("rotate IdP system client: %w", err)
				}
				return a.printIDPIssued(asJSON, c, token, "rotated")
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"client_id":…,"x_auth_token":…}`)
	return cmd
}

func (a *app) idpClientRevokeCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke CLIENT_ID [--json]",
		Short: "Revoke a system client for good, with every token it obtained",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				c, err := svc.Clients.RevokeSystem(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("revoke IdP system client: %w", err)
				}
				if asJSON {
					if err := json.NewEncoder(a.stdout).Encode(toIDPClientJSON(c)); err != nil {
						return fmt.Errorf("write output: %w", err)
					}
					return nil
				}
				fmt.Fprintf(a.stdout, "revoked IdP system client %s (%s)\n", c.ID, c.Name)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
