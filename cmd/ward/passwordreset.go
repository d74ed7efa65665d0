package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/store"
)

func (a *app) passwordResetCmd() *cobra.Command {
	var email, password, actorEmail string
	cmd := &cobra.Command{
		Use:   "password-reset --email E --password P --actor ADMIN_EMAIL",
		Short: "Set a user's password and clear their sign-in lockout, acting (and audited) as an admin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := readPassword(password, a.stdin)
			if err != nil {
				return err
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				ctx := cmd.Context()
				admin, err := userByEmail(ctx, svc.Directory, actorEmail)
				if err != nil {
					return fmt.Errorf("actor: %w", err)
				}
				roles, err := svc.Directory.UserRoles(actor.System(ctx), admin.ID)
				if err != nil {
					return fmt.Errorf("actor roles: %w", err)
				}
				if !slices.Contains(roles, directory.RoleAdmin) {
					return fmt.Errorf("actor %s is not an admin; only an admin may reset passwords", actorEmail)
				}
				target, err := userByEmail(ctx, svc.Directory, email)
				if err != nil {
					return err
				}
				// From here on the admin is the actor: permission checks and the
				// audit trail name them, not the system.
				asAdmin := actor.With(ctx, actor.Actor{UserID: admin.ID})
				err = svc.DB.InTx(asAdmin, func(ctx context.Context) error {
					if err := svc.Directory.SetPassword(ctx, target.ID, pw); err != nil {
						return err
					}
					// A reset password means any open session may be the
					// intruder's: end them all.
					if err := svc.DB.DeleteUserSessions(ctx, target.ID); err != nil {
						return err
					}
					// The person was probably locked out: let the new
					// password in at once.
					return svc.Sessions.Unlock(ctx, target.ID)
				})
				if err != nil {
					return fmt.Errorf("reset password of %s: %w", email, err)
				}
				fmt.Fprintf(a.stdout, "password of user %d (%s) reset by %s\n", target.ID, target.Email, admin.Email)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "email of the user whose password is set (required)")
	cmd.Flags().StringVar(&password, "password", "", `new password (required; "-" reads it from standard input)`)
	cmd.Flags().StringVar(&actorEmail, "actor", "", "email of the admin performing the reset (required)")
	for _, f := range []string{"email", "password", "actor"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// userByEmail finds the live user with email, looking as the system.
func userByEmail(ctx context.Context, dir *directory.Service, email string) (*directory.User, error) {
	users, _, err := dir.SearchUsers(actor.System(ctx), directory.UserFilter{Email: email}, store.Page{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", email, err)
	}
	if len(users) == 0 {
		return nil, apperr.New(apperr.NotFound, "no user with email %s", email)
	}
	return users[0], nil
}
