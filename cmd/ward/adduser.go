package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/directory"
	"ward/internal/server"
)

func (a *app) addUserCmd() *cobra.Command {
	var email, password string
	var roles []string
	cmd := &cobra.Command{
		Use:   "add-user --email E --password P --role R...",
		Short: "Create a user (acting as the system, e.g. to bootstrap the first admin)",
		Long: `Create a user (acting as the system, e.g. to bootstrap the first admin).

--role is required (repeatable): a user with no role can sign in but do
nothing. The roles are:
` + roleList(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(roles) == 0 {
				// A user without a role is silently useless; say so before
				// reading the password or touching the database.
				return fmt.Errorf("add-user needs at least one --role (e.g. --role admin); the roles are: %s", strings.Join(roleNames(), ", "))
			}
			pw, err := readPassword(password, a.stdin)
			if err != nil {
				return err
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				u, err := svc.Directory.CreateUser(actor.System(cmd.Context()), directory.NewUser{
					User:     directory.User{Email: strings.TrimSpace(email)},
					Password: pw,
					Roles:    roles,
				})
				if err != nil {
					return fmt.Errorf("add user %s: %w", email, err)
				}
				fmt.Fprintf(a.stdout, "created user %d (%s) with roles: %s\n", u.ID, u.Email, strings.Join(roles, ", "))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "email address (required)")
	cmd.Flags().StringVar(&password, "password", "", `password (required; "-" reads it from standard input)`)
	cmd.Flags().StringArrayVar(&roles, "role", nil, "role to grant (required, repeatable), e.g. --role admin")
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("password")
	return cmd
}

// roleNames lists the static roles' names, for messages.
func roleNames() []string {
	out := make([]string, len(directory.StaticRoles))
	for i, r := range directory.StaticRoles {
		out[i] = r.Name
	}
	return out
}

// roleList is the static roles with their descriptions, one a line.
func roleList() string {
	var b strings.Builder
	for _, r := range directory.StaticRoles {
		fmt.Fprintf(&b, "  %-20s %s\n", r.Name, r.Description)
	}
	return b.String()
}
