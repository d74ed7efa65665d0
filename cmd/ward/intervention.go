package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/intervention"
	"ward/internal/server"
)

// maxCardFile bounds what --card-html-file reads (the store's own limit).
const maxCardFile = intervention.MaxCardHTMLLen

func (a *app) interventionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "intervention",
		Short: "Administer interventions (acting as the system)",
	}
	cmd.AddCommand(a.interventionCreateCmd(), a.interventionListCmd(), a.interventionShowCmd(),
		a.interventionUpdateCmd(), a.interventionDeleteCmd(), a.ruleCmd())
	return cmd
}

// interventionFlags are the settings create and update take; only the
// flags given on the command line change anything.
type interventionFlags struct {
	description, cardHTML, cardFile, linkLabel, linkURL, statusText string
	public                                                          bool
	rank                                                            int
}

func (f *interventionFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.description, "description", "", "description, for administrators")
	fl.StringVar(&f.cardHTML, "card-html", "", "HTML of the card (stored as given)")
	fl.StringVar(&f.cardFile, "card-html-file", "", "file holding the HTML of the card")
	fl.StringVar(&f.linkLabel, "link-label", "", "label of the card's link")
	fl.StringVar(&f.linkURL, "link-url", "", "absolute http(s) URL of the card's link")
	fl.StringVar(&f.statusText, "status-text", "", "status text shown on the card")
	fl.BoolVar(&f.public, "public-access", true, "show the card to everyone")
	fl.IntVar(&f.rank, "display-rank", 0, "display order, ascending")
}

// apply writes the flags the user set over iv.
func (f *interventionFlags) apply(cmd *cobra.Command, iv *intervention.Intervention) error {
	ch := cmd.Flags().Changed
	if ch("card-html") && ch("card-html-file") {
		return fmt.Errorf("give --card-html or --card-html-file, not both")
	}
	if ch("card-html-file") {
		b, err := readSmallFile(f.cardFile, maxCardFile)
		if err != nil {
			return fmt.Errorf("--card-html-file: %w", err)
		}
		iv.CardHTML = string(b)
	}
	for _, s := range []struct {
		flag string
		dst  *string
		v    string
	}{{"description", &iv.Description, f.description}, {"card-html", &iv.CardHTML, f.cardHTML},
		{"link-label", &iv.LinkLabel, f.linkLabel}, {"link-url", &iv.LinkURL, f.linkURL},
		{"status-text", &iv.StatusText, f.statusText}} {
		if ch(s.flag) {
			*s.dst = s.v
		}
	}
	if ch("public-access") {
		iv.PublicAccess = f.public
	}
	if ch("display-rank") {
		iv.DisplayRank = f.rank
	}
	return nil
}

// interventionOut is an intervention as --json prints it.
type interventionOut struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	CardHTML     string `json:"card_html"`
	LinkLabel    string `json:"link_label"`
	LinkURL      string `json:"link_url"`
	StatusText   string `json:"status_text"`
	PublicAccess bool   `json:"public_access"`
	DisplayRank  int    `json:"display_rank"`
	ClientID     string `json:"client_id,omitempty"`
	Version      int64  `json:"version"`
}

func toInterventionOut(iv *intervention.Intervention) interventionOut {
	return interventionOut{Name: iv.Name, Description: iv.Description, CardHTML: iv.CardHTML,
		LinkLabel: iv.LinkLabel, LinkURL: iv.LinkURL, StatusText: iv.StatusText, PublicAccess: iv.PublicAccess,
		DisplayRank: iv.DisplayRank, ClientID: iv.ClientID, Version: iv.Version}
}

// printIntervention prints one intervention as JSON or as text.
func (a *app) printIntervention(asJSON bool, verb string, iv *intervention.Intervention) error {
	if asJSON {
		if err := json.NewEncoder(a.stdout).Encode(toInterventionOut(iv)); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	fmt.Fprintf(a.stdout, "%s intervention %s (version %d, public_access %t, display_rank %d", verb, iv.Name,
		iv.Version, iv.PublicAccess, iv.DisplayRank)
	if iv.ClientID != "" {
		fmt.Fprintf(a.stdout, ", client %s", iv.ClientID)
	}
	fmt.Fprintln(a.stdout, ")")
	return nil
}

func (a *app) interventionCreateCmd() *cobra.Command {
	var (
		f      interventionFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--description D] [--card-html H | --card-html-file F] [--link-label L] [--link-url U] [--status-text S] [--public-access=false] [--display-rank N] [--json]",
		Short: "Create an intervention; its client names it with `ward client create --intervention NAME`",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			iv := intervention.Intervention{Name: args[0], PublicAccess: true}
			if err := f.apply(cmd, &iv); err != nil {
				return err
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				got, err := svc.Interventions.Create(actor.System(cmd.Context()), iv)
				if err != nil {
					return fmt.Errorf("create intervention: %w", err)
				}
				return a.printIntervention(asJSON, "created", got)
			})
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the intervention as JSON")
	return cmd
}

func (a *app) interventionUpdateCmd() *cobra.Command {
	var (
		f      interventionFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "update NAME [flags of create]",
		Short: "Change the settings the flags name; the others stay",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				got, err := svc.Interventions.Update(actor.System(cmd.Context()), args[0], 0, func(iv *intervention.Intervention) error {
					return f.apply(cmd, iv)
				})
				if err != nil {
					return fmt.Errorf("update intervention: %w", err)
				}
				return a.printIntervention(asJSON, "updated", got)
			})
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the intervention as JSON")
	return cmd
}

func (a *app) interventionShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME [--json]",
		Short: "Show one intervention",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				iv, err := svc.Interventions.Get(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("show intervention: %w", err)
				}
				if asJSON {
					return a.printIntervention(true, "", iv)
				}
				w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				o := toInterventionOut(iv)
				for _, row := range [][2]string{{"name", o.Name}, {"description", o.Description},
					{"link_label", o.LinkLabel}, {"link_url", o.LinkURL}, {"status_text", o.StatusText},
					{"public_access", fmt.Sprint(o.PublicAccess)}, {"display_rank", fmt.Sprint(o.DisplayRank)},
					{"client_id", o.ClientID}, {"version", fmt.Sprint(o.Version)},
					{"card_html", fmt.Sprintf("%d bytes (--json shows it)", len(o.CardHTML))}} {
					fmt.Fprintf(w, "%s\t%s\n", row[0], row[1])
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the intervention as JSON")
	return cmd
}

func (a *app) interventionListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List every intervention by display rank, then name",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				ivs, err := svc.Interventions.List(actor.System(cmd.Context()))
				if err != nil {
					return fmt.Errorf("list interventions: %w", err)
				}
				if asJSON {
					out := make([]interventionOut, len(ivs))
					for i, iv := range ivs {
						out[i] = toInterventionOut(iv)
					}
					if err := json.NewEncoder(a.stdout).Encode(out); err != nil {
						return fmt.Errorf("write output: %w", err)
					}
					return nil
				}
				w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tPUBLIC\tRANK\tCLIENT\tLINK")
				for _, iv := range ivs {
					fmt.Fprintf(w, "%s\t%t\t%d\t%s\t%s\n", iv.Name, iv.PublicAccess, iv.DisplayRank, iv.ClientID, iv.LinkURL)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}

func (a *app) interventionDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an intervention with every person's access row",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				if err := svc.Interventions.Delete(actor.System(cmd.Context()), args[0]); err != nil {
					return fmt.Errorf("delete intervention: %w", err)
				}
				fmt.Fprintf(a.stdout, "deleted intervention %s\n", args[0])
				return nil
			})
		},
	}
}
