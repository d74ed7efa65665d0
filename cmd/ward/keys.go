package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/oauth/keys"
	"ward/internal/server"
)

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the JWT signing keys",
	}

	var lifetime time.Duration
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make fresh signing keys current; the old ones stay published until their tokens have expired",
		Long: `Make a fresh key the current signer for every algorithm (ES256, RS256).
The previous keys stop signing at once (running servers notice within a
second) and stay in the JWKS for --max-token-lifetime plus a minute, so every
token they signed can still be verified until it expires.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if lifetime <= 0 {
				return fmt.Errorf("--max-token-lifetime must be positive, got %v", lifetime)
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				fresh, err := svc.Keys.Rotate(actor.System(cmd.Context()), lifetime)
				if err != nil {
					return err
				}
				for _, k := range fresh {
					fmt.Fprintf(a.stdout, "new current %s key %s\n", k.Alg, k.KID)
				}
				fmt.Fprintf(a.stdout, "previous keys stay published until %s\n",
					keys.RetireTime(fresh[0].ActivatedAt, lifetime).UTC().Format(time.RFC3339))
				return nil
			})
		},
	}
	rotate.Flags().DurationVar(&lifetime, "max-token-lifetime", keys.DefaultMaxTokenLifetime,
		"lifetime of the longest-lived token the old keys may have signed")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the stored signing keys (no key material)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				ks, err := svc.Keys.List(cmd.Context())
				if err != nil {
					return err
				}
				now := time.Now()
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KID\tALG\tSTATUS\tACTIVATED\tRETIRE AFTER")
				for _, k := range ks {
					status, retire := "current", "-"
					if !k.Current() {
						retire = k.RetireAfter.UTC().Format(time.RFC3339)
						status = "retired, published"
						if !k.PublishedAt(now) {
							status = "retired, unpublished"
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, status,
						k.ActivatedAt.UTC().Format(time.RFC3339), retire)
				}
				return tw.Flush()
			})
		},
	}

	prune := &cobra.Command{
		Use:   "prune",
		Short: "Delete retired keys that are no longer published",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				n, err := svc.Keys.PruneRetired(actor.System(cmd.Context()))
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "deleted %d retired signing keys\n", n)
				return nil
			})
		},
	}
	cmd.AddCommand(rotate, list, prune)
	return cmd
}
