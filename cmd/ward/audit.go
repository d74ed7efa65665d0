package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/server"
)

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Inspect the audit trail",
	}
	cmd.AddCommand(a.auditVerifyCmd(), a.auditCheckpointCmd(), a.auditCheckpointKeyCmd())
	return cmd
}

func (a *app) auditVerifyCmd() *cobra.Command {
	var checkpointFile string
	cmd := &cobra.Command{
		Use:   "verify [--checkpoint FILE]",
		Short: "Check the audit hash chain, and that it reaches its latest signed checkpoint; exit status 1 and the first bad event when it is broken",
		Long: `Check the audit hash chain: every event intact and linked to the one before.
Then compare it with the latest signed checkpoint, from --checkpoint FILE or,
without it, from audit-checkpoints.jsonl in the data directory when there is
one: the chain must reach the checkpointed event and carry its hash, which
catches events deleted from the end together with a rewritten chain head.
A checkpoint whose signature does not verify is refused (exit status 1).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				// The command line is ward itself: the authorizer lets it in.
				ctx := actor.System(cmd.Context())
				broken, err := svc.Audit.Verify(ctx)
				if err != nil {
					return fmt.Errorf("verify audit chain: %w", err)
				}
				if broken != nil {
					a.printBroken(cmd, svc, broken)
					return exitError{code: 1}
				}
				n, _, err := svc.DB.AuditHead(ctx)
				if err != nil {
					return fmt.Errorf("read audit head: %w", err)
				}

				path := checkpointFile
				if path == "" {
					path = svc.Checkpoints.Path()
				}
				var cp *audit.Checkpoint
				if path != "" {
					cp, err = audit.LatestCheckpoint(path, svc.Checkpoints.Key())
					switch {
					case apperr.Is(err, apperr.NotFound) && checkpointFile == "":
						fmt.Fprintf(a.stderr, "ward: no audit checkpoint at %s: events deleted from the end of the chain cannot be detected\n", path)
						cp, err = nil, nil
					case apperr.Is(err, apperr.Invalid):
						fmt.Fprintf(a.stdout, "audit checkpoint REFUSED: %v\n", err)
						return exitError{code: 1}
					case err != nil:
						return fmt.Errorf("read audit checkpoints: %w", err)
					}
				}
				if cp != nil {
					broken, err := svc.Audit.VerifyCheckpoint(ctx, cp)
					if err != nil {
						return fmt.Errorf("verify audit chain against its checkpoint: %w", err)
					}
					if broken != nil {
						a.printBroken(cmd, svc, broken)
						return exitError{code: 1}
					}
				}
				fmt.Fprintf(a.stdout, "audit chain OK: %d events\n", n)
				if cp != nil {
					fmt.Fprintf(a.stdout, "reaches the checkpoint at event %d signed %s (key %s, %s)\n",
						cp.Seq, cp.Time.Format(time.RFC3339), cp.KID, path)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&checkpointFile, "checkpoint", "", "file of signed checkpoints (default: audit-checkpoints.jsonl in the data directory)")
	return cmd
}

// printBroken says where the chain breaks and shows the stored event, so an
// operator can see what changed.
func (a *app) printBroken(cmd *cobra.Command, svc *server.Services, broken *audit.Broken) {
	fmt.Fprintf(a.stdout, "audit chain BROKEN at event %d: %s\n", broken.ID, broken.Reason)
	errFound := errors.New("found")
	err := svc.DB.ScanAudit(cmd.Context(), broken.ID-1, func(e audit.Event) error {
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
}

func (a *app) auditCheckpointCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign the audit chain's head now and append it to the checkpoint file (ward serve does this every WARD_AUDIT_CHECKPOINT_INTERVAL and on shutdown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				cp, err := svc.Checkpoints.Checkpoint(actor.System(cmd.Context()))
				if err != nil {
					return err
				}
				if cp == nil {
					fmt.Fprintln(a.stdout, "the audit chain is empty: nothing to checkpoint")
					return nil
				}
				if err := json.NewEncoder(a.stdout).Encode(cp); err != nil {
					return fmt.Errorf("write output: %w", err)
				}
				return nil
			})
		},
	}
}

func (a *app) auditCheckpointKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint-key",
		Short: "Print the public key (JWK) that verifies the audit checkpoints, for an auditor",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				b, err := json.Marshal(svc.Checkpoints.Key().PublicJWK())
				if err != nil {
					return fmt.Errorf("encode key: %w", err)
				}
				fmt.Fprintln(a.stdout, string(b))
				return nil
			})
		},
	}
}
