package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ward/internal/server"
)

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema and static data up to date (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// withServices migrates; there is nothing else to do.
			return a.withServices(cmd, func(svc *server.Services) error {
				fmt.Fprintf(a.stdout, "database is up to date (%s)\n", svc.DB.Dialect())
				return nil
			})
		},
	}
}
