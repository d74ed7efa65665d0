package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/server"
)

func (a *app) userCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Administer users",
	}
	var id int64
	purge := &cobra.Command{
		Use:   "purge --id N",
		Short: "Permanently remove a user and everything that belongs to them (audit events stay)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id <= 0 {
				return fmt.Errorf("--id must be a positive user id, got %d", id)
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				if err := svc.Directory.PurgeUser(actor.System(cmd.Context()), id); err != nil {
					return fmt.Errorf("purge user %d: %w", id, err)
				}
				fmt.Fprintf(a.stdout, "purged user %d\n", id)
				return nil
			})
		},
	}
	purge.Flags().Int64Var(&id, "id", 0, "id of the user to purge (required)")
	_ = purge.MarkFlagRequired("id")
	cmd.AddCommand(purge)
	cmd.AddCommand(a.userUnlockCmd())
	return cmd
}

func (a *app) userUnlockCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unlock EMAIL",
		Short: "Clear a user's sign-in lockout (acting, and audited, as the system)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				ctx := actor.System(cmd.Context())
				u, err := userByEmail(ctx, svc.Directory, args[0])
				if err != nil {
					return err
				}
				if err := svc.Sessions.Unlock(ctx, u.ID); err != nil {
					return fmt.Errorf("unlock %s: %w", args[0], err)
				}
				fmt.Fprintf(a.stdout, "unlocked user %d (%s)\n", u.ID, u.Email)
				return nil
			})
		},
	}
}
