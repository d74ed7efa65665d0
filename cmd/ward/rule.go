package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/intervention"
	"ward/internal/intervention/strategy"
	"ward/internal/server"
)

// ruleCmd is `ward intervention rule`: an intervention's access rules,
// managed as the system. A rule file is the reference's rule JSON.
func (a *app) ruleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rule",
		Short: "Manage an intervention's access rules (the reference's rule JSON)",
	}
	cmd.AddCommand(a.ruleAddCmd(), a.ruleListCmd(), a.ruleShowCmd(), a.ruleUpdateCmd(), a.ruleDeleteCmd())
	return cmd
}

// accessRuleOut is a rule as --json prints it (the API's shape).
type accessRuleOut struct {
	ID              int64           `json:"id"`
	Intervention    string          `json:"intervention"`
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	Rank            *int            `json:"rank"`
	FunctionDetails json.RawMessage `json:"function_details"`
	Version         int64           `json:"version"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	Error           string          `json:"error,omitempty"`
}

func toAccessRuleOut(r *intervention.AccessRule) accessRuleOut {
	return accessRuleOut{ID: r.ID, Intervention: r.Intervention, Name: r.Name, Description: r.Description,
		Rank: r.Rank, FunctionDetails: r.Details, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Error: r.Error}
}

// readRuleFile reads the rule JSON from path, or from stdin for "-".
func (a *app) readRuleFile(path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("--file is required (a rule JSON file, or - for stdin)")
	}
	if path != "-" {
		b, err := readSmallFile(path, strategy.MaxRuleBytes)
		if err != nil {
			return nil, fmt.Errorf("--file: %w", err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(a.stdin, strategy.MaxRuleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the rule from stdin: %w", err)
	}
	if len(b) > strategy.MaxRuleBytes {
		return nil, fmt.Errorf("the rule on stdin is larger than %d bytes", strategy.MaxRuleBytes)
	}
	return b, nil
}

func parseRuleID(raw string) (int64, error) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("rule id %q must be a positive integer", raw)
	}
	return id, nil
}

// printRule prints one rule as JSON or as a line of text.
func (a *app) printRule(asJSON bool, verb string, r *intervention.AccessRule) error {
	if asJSON {
		return a.printJSON(toAccessRuleOut(r))
	}
	fmt.Fprintf(a.stdout, "%s access rule %d (%s) of intervention %s, version %d, rank %s\n", verb, r.ID, r.Name,
		r.Intervention, r.Version, rankText(r.Rank))
	if r.Error != "" {
		fmt.Fprintf(a.stdout, "  does not compile, grants nothing: %s\n", r.Error)
	}
	return nil
}

// onRule runs fn on the rule the arguments NAME ID name, acting as the
// system with the services wired.
func (a *app) onRule(cmd *cobra.Command, args []string, fn func(ctx context.Context, svc *server.Services, name string, id int64) error) error {
	id, err := parseRuleID(args[1])
	if err != nil {
		return err
	}
	return a.withServices(cmd, func(svc *server.Services) error {
		return fn(actor.System(cmd.Context()), svc, args[0], id)
	})
}

func rankText(rank *int) string {
	if rank == nil {
		return "none"
	}
	return strconv.Itoa(*rank)
}

func (a *app) ruleAddCmd() *cobra.Command {
	var (
		file   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME --file F|- [--json]",
		Short: "Add an access rule to intervention NAME (checked and compiled when stored)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := a.readRuleFile(file)
			if err != nil {
				return err
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				r, err := svc.Interventions.AddRule(actor.System(cmd.Context()), args[0], raw)
				if err != nil {
					return fmt.Errorf("add access rule: %w", err)
				}
				return a.printRule(asJSON, "added", r)
			})
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "the rule JSON file, or - for stdin")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rule as JSON")
	return cmd
}

func (a *app) ruleUpdateCmd() *cobra.Command {
	var (
		file    string
		version int64
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "update NAME ID --file F|- [--version N] [--json]",
		Short: "Replace an access rule with the file's rule (checked as a new one is)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := a.readRuleFile(file)
			if err != nil {
				return err
			}
			return a.onRule(cmd, args, func(ctx context.Context, svc *server.Services, name string, id int64) error {
				r, err := svc.Interventions.UpdateRule(ctx, name, id, version, raw)
				if err != nil {
					return fmt.Errorf("update access rule: %w", err)
				}
				return a.printRule(asJSON, "updated", r)
			})
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "the rule JSON file, or - for stdin")
	cmd.Flags().Int64Var(&version, "version", 0, "apply only if the rule is at this version")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rule as JSON")
	return cmd
}

func (a *app) ruleShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME ID [--json]",
		Short: "Show one access rule with its function_details",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onRule(cmd, args, func(ctx context.Context, svc *server.Services, name string, id int64) error {
				r, err := svc.Interventions.Rule(ctx, name, id)
				if err != nil {
					return fmt.Errorf("show access rule: %w", err)
				}
				if asJSON {
					return a.printRule(true, "", r)
				}
				if err := a.printRule(false, "", r); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "  %s\n", r.Details)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rule as JSON")
	return cmd
}

func (a *app) ruleListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list NAME [--json]",
		Short: "List intervention NAME's access rules in creation order",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				rules, err := svc.Interventions.Rules(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("list access rules: %w", err)
				}
				if asJSON {
					out := make([]accessRuleOut, len(rules))
					for i, r := range rules {
						out[i] = toAccessRuleOut(r)
					}
					return a.printJSON(out)
				}
				w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tRANK\tVERSION\tNAME\tERROR")
				for _, r := range rules {
					fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\n", r.ID, rankText(r.Rank), r.Version, r.Name, r.Error)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}

func (a *app) ruleDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME ID",
		Short: "Delete one access rule",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onRule(cmd, args, func(ctx context.Context, svc *server.Services, name string, id int64) error {
				if err := svc.Interventions.DeleteRule(ctx, name, id); err != nil {
					return fmt.Errorf("delete access rule: %w", err)
				}
				fmt.Fprintf(a.stdout, "deleted access rule %d of intervention %s\n", id, name)
				return nil
			})
		},
	}
}
