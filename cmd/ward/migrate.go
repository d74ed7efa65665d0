package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema and static data up to date (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := a.services(cmd) // migrates
			if err != nil {
				return err
			}
			defer svc.Close()
			fmt.Fprintf(a.stdout, "database is up to date (%s)\n", svc.DB.Dialect())
			return nil
		},
	}
}
