package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ward/internal/server"
)

func (a *app) serveCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ward server (migrates the database first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config(cmd)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("addr") {
				cfg.Addr = addr
			}
			srv, err := server.New(cmd.Context(), cfg,
				server.WithLogger(server.NewLogger(cfg, a.stderr)), server.WithVersion(version()))
			if err != nil {
				return err
			}
			runErr := srv.Run(cmd.Context())
			if err := srv.Close(); err != nil && runErr == nil {
				return fmt.Errorf("close: %w", err)
			}
			return runErr
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (env WARD_ADDR)")
	return cmd
}
