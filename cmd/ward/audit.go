package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"ward/internal/audit"
	"ward/internal/server"
)

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Inspect the audit trail",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Check the audit hash chain; exit status 1 and the first bad event when it is broken",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				ctx := cmd.Context()
				broken, err := svc.Audit.Verify(ctx)
				if err != nil {
					return fmt.Errorf("verify audit chain: %w", err)
				}
				if broken != nil {
					fmt.Fprintf(a.stdout, "audit chain BROKEN at event %d: %s\n", broken.ID, broken.Reason)
					// Show the stored event so an operator can see what changed.
					errFound := errors.New("found")
					err := svc.DB.ScanAudit(ctx, broken.ID-1, func(e audit.Event) error {
						if e.ID == broken.ID {
							fmt.Fprintf(a.stdout, "  id=%d time=%s user=%d subject=%d client=%q context=%s comment=%q hash=%s prev=%s\n",
								e.ID, e.Timestamp.UTC().Format(time.RFC3339Nano), e.UserID, e.SubjectID, e.ClientID,
								e.Context, e.Comment, e.Hash, e.PrevHash)
						}
						return errFound
					})
					if err != nil && !errors.Is(err, errFound) {
						fmt.Fprintf(a.stderr, "ward: read event %d: %v\n", broken.ID, err)
					}
					return exitError{code: 1}
				}
				n, _, err := svc.DB.AuditHead(ctx)
				if err != nil {
					return fmt.Errorf("read audit head: %w", err)
				}
				fmt.Fprintf(a.stdout, "audit chain OK: %d events\n", n)
				return nil
			})
		},
	})
	return cmd
}
