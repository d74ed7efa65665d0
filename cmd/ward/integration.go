package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/integration"
	"ward/internal/server"
)

func (a *app) integrationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "integration",
		Short: "Administer integrations that receive pushed tokens (acting as the system)",
		Long: "An integration is a confidential system client and a receiver URL: ward POSTs the client a fresh JWT " +
			"access token with its registered scopes, signed like a webhook, when ward starts and before each token " +
			"expires, so nobody copies the client's secret by hand (docs/integrations.md).",
	}
	cmd.AddCommand(a.integrationCreateCmd(), a.integrationListCmd(), a.integrationShowCmd(),
		a.integrationDeleteCmd(), a.integrationPushCmd())
	return cmd
}

// integrationOut is an integration as --json prints it: never its secret
// or a token (create adds the secret, once).
type integrationOut struct {
	ID                   string     `json:"id"`
	Secret               string     `json:"secret,omitempty"`
	ClientID             string     `json:"client_id"`
	URL                  string     `json:"url"`
	TokenLifetimeSeconds int64      `json:"token_lifetime_seconds"`
	Status               string     `json:"status"`
	LastHTTPStatus       int        `json:"last_http_status,omitempty"`
	LastError            string     `json:"last_error,omitempty"`
	ConsecutiveFailures  int        `json:"consecutive_failures"`
	LastAttemptAt        *time.Time `json:"last_attempt_at,omitempty"`
	LastPushedAt         *time.Time `json:"last_pushed_at,omitempty"`
	TokenID              int64      `json:"token_id,omitempty"`
	TokenExpiresAt       *time.Time `json:"token_expires_at,omitempty"`
	NextPushAt           *time.Time `json:"next_push_at,omitempty"`
}

func toIntegrationOut(it *integration.Integration) integrationOut {
	return integrationOut{ID: it.ID, ClientID: it.ClientID, URL: it.URL,
		TokenLifetimeSeconds: int64(it.TokenLifetime / time.Second), Status: string(it.LastStatus),
		LastHTTPStatus: it.LastHTTPStatus, LastError: it.LastError, ConsecutiveFailures: it.Failures,
		LastAttemptAt: optTime(it.LastAttemptAt), LastPushedAt: optTime(it.LastPushedAt), TokenID: it.TokenID,
		TokenExpiresAt: optTime(it.TokenExpiresAt), NextPushAt: optTime(it.NextPushAt)}
}

func (a *app) integrationCreateCmd() *cobra.Command {
	var (
		in     integration.NewIntegration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --client-id C --url U [--token-lifetime 1h] [--json]",
		Short: "Register an integration; prints its signing secret once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				c, err := svc.Integrations.Create(actor.System(cmd.Context()), in)
				if err != nil {
					return fmt.Errorf("create integration: %w", err)
				}
				if asJSON {
					out := toIntegrationOut(c.Integration)
					out.Secret = c.Secret
					return a.writeJSON(out)
				}
				fmt.Fprintf(a.stdout, "created integration %s for client %s\nsigning secret (shown once): %s\n"+
					"the first token is pushed by the running server within a minute (or: ward integration push %s)\n",
					c.ID, c.ClientID, c.Secret, c.ID)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.ClientID, "client-id", "", "the confidential system client (client_credentials, with scopes)")
	fl.StringVar(&in.URL, "url", "", "the receiver URL tokens are POSTed to (https)")
	fl.DurationVar(&in.TokenLifetime, "token-lifetime", integration.DefaultLifetime, "each pushed token's lifetime (5m to 24h)")
	fl.BoolVar(&asJSON, "json", false, `print {"id":…,"secret":…,…} as JSON`)
	return cmd
}

func (a *app) integrationListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List integrations with their push status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				its, err := svc.Integrations.List(actor.System(cmd.Context()))
				if err != nil {
					return fmt.Errorf("list integrations: %w", err)
				}
				if asJSON {
					out := make([]integrationOut, len(its))
					for i, it := range its {
						out[i] = toIntegrationOut(it)
					}
					return a.writeJSON(out)
				}
				w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tCLIENT\tSTATUS\tFAILURES\tTOKEN EXPIRES\tURL")
				for _, it := range its {
					exp := "-"
					if !it.TokenExpiresAt.IsZero() {
						exp = it.TokenExpiresAt.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", it.ID, it.ClientID, it.LastStatus, it.Failures, exp, it.URL)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}

func (a *app) printIntegration(it *integration.Integration, asJSON bool) error {
	if asJSON {
		return a.writeJSON(toIntegrationOut(it))
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "id\t%s\nclient\t%s\nurl\t%s\ntoken lifetime\t%s\nstatus\t%s\n", it.ID, it.ClientID, it.URL,
		it.TokenLifetime, it.LastStatus)
	fmt.Fprintf(w, "last answer\t%d\nlast error\t%s\nconsecutive failures\t%d\nlast attempt\t%s\nlast pushed\t%s\n",
		it.LastHTTPStatus, it.LastError, it.Failures, at(it.LastAttemptAt), at(it.LastPushedAt))
	fmt.Fprintf(w, "token id\t%d\ntoken expires\t%s\nnext push\t%s\n", it.TokenID, at(it.TokenExpiresAt), at(it.NextPushAt))
	return w.Flush()
}

func (a *app) integrationShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID [--json]",
		Short: "Show one integration and its push status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				it, err := svc.Integrations.Get(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("show integration: %w", err)
				}
				return a.printIntegration(it, asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the integration as JSON")
	return cmd
}

func (a *app) integrationDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an integration: pushes stop and its live pushed tokens are revoked",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				n, err := svc.Integrations.Delete(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("delete integration: %w", err)
				}
				fmt.Fprintf(a.stdout, "deleted integration %s; %d live pushed token(s) revoked\n", args[0], n)
				return nil
			})
		},
	}
}

func (a *app) integrationPushCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "push ID [--json]",
		Short: "Push a fresh token to the integration now, from this process",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				// Tokens are signed with ward's keys, which this process
				// loads (or, on a fresh install, creates) as serve does.
				if err := svc.Keys.EnsureActive(actor.System(cmd.Context())); err != nil {
					return fmt.Errorf("signing keys: %w", err)
				}
				it, err := svc.Integrations.PushNow(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("push integration: %w", err)
				}
				if err := a.printIntegration(it, asJSON); err != nil {
					return err
				}
				if it.LastStatus != integration.StatusPushed {
					return fmt.Errorf("push to integration %s failed: %s", it.ID, it.LastError)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the integration as JSON")
	return cmd
}
