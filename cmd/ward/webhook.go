package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/webhook"
)

// The webhook commands (issue 15) drive webhook.Service as ward itself,
// like the management API does for an administrator.

func (a *app) webhookCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Administer webhook subscriptions (acting as the system)",
		Long: "A webhook subscribes a system client's URL to event types; ward POSTs each matching event there, " +
			"signed per Standard Webhooks (docs/webhooks.md).",
	}
	cmd.AddCommand(a.webhookCreateCmd(), a.webhookListCmd(), a.webhookShowCmd(), a.webhookUpdateCmd(),
		a.webhookStatusCmd(webhook.StatusEnabled), a.webhookStatusCmd(webhook.StatusDisabled),
		a.webhookRotateCmd(), a.webhookDeleteCmd(), a.webhookDeliveriesCmd(), a.webhookReplayCmd())
	return cmd
}

// webhookOut is a subscription as --json prints it; Secret only from the
// command that issued it.
type webhookOut struct {
	ID             string    `json:"id"`
	Secret         string    `json:"secret,omitempty"`
	ClientID       string    `json:"client_id"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description"`
	Status         string    `json:"status"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	FailureRun     int       `json:"failure_run"`
	CreatedAt      time.Time `json:"created_at"`
	Version        int64     `json:"version"`
}

func toWebhookOut(w *webhook.Subscription, secret string) webhookOut {
	evs := make([]string, len(w.Events))
	for i, e := range w.Events {
		evs[i] = string(e)
	}
	return webhookOut{ID: w.ID, Secret: secret, ClientID: w.ClientID, URL: w.URL, Events: evs,
		Description: w.Description, Status: string(w.Status), DisabledReason: w.DisabledReason,
		FailureRun: w.FailureRun, CreatedAt: w.CreatedAt, Version: w.Version}
}

// withHooks runs fn with the webhook service, acting as ward itself.
func (a *app) withHooks(cmd *cobra.Command, fn func(ctx context.Context, h *webhook.Service) error) error {
	return a.withServices(cmd, func(svc *server.Services) error {
		return fn(actor.System(cmd.Context()), svc.Webhooks)
	})
}

func (a *app) printWebhook(w *webhook.Subscription, secret string, asJSON bool) error {
	o := toWebhookOut(w, secret)
	if asJSON {
		return a.writeJSON(o)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	rows := [][2]string{{"id", o.ID}, {"client_id", o.ClientID}, {"url", o.URL},
		{"events", strings.Join(o.Events, " ")}, {"description", o.Description}, {"status", o.Status},
		{"disabled_reason", o.DisabledReason}, {"failure_run", fmt.Sprint(o.FailureRun)},
		{"created_at", o.CreatedAt.UTC().Format(time.RFC3339)}, {"version", fmt.Sprint(o.Version)}}
	if secret != "" {
		rows = append(rows, [2]string{"secret", secret + "   (shown once: store it now)"})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

func (a *app) webhookCreateCmd() *cobra.Command {
	var (
		in     webhook.NewSubscription
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --client-id C --url U --event T [--event T ...] [--description D] [--json]",
		Short: "Subscribe a client's URL to event types; prints the signing secret once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.ClientID == "" {
				return fmt.Errorf("--client-id is required")
			}
			return a.withHooks(cmd, func(ctx context.Context, h *webhook.Service) error {
				w, secret, err := h.Create(ctx, in)
				if err != nil {
					return fmt.Errorf("create webhook: %w", err)
				}
				return a.printWebhook(w, secret, asJSON)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.ClientID, "client-id", "", "the system client the webhook delivers for")
	fl.StringVar(&in.URL, "url", "", "the receiver URL (https; http and private addresses only with WARD_OUTBOUND_ALLOW_PRIVATE=1)")
	fl.StringArrayVar(&in.Events, "event", nil, "an event type to receive (repeat for several)")
	fl.StringVar(&in.Description, "description", "", "what the subscription is for")
	fl.BoolVar(&asJSON, "json", false, `print {"id":…,"secret":…,…} as JSON`)
	return cmd
}

func (a *app) webhookListCmd() *cobra.Command {
	var (
		clientID string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "list [--client-id C] [--json]",
		Short: "List webhook subscriptions (never a secret)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withHooks(cmd, func(ctx context.Context, h *webhook.Service) error {
				var all []*webhook.Subscription
				p := store.Page{Limit: store.MaxLimit}
				for {
					ws, next, err := h.List(ctx, clientID, p)
					if err != nil {
						return fmt.Errorf("list webhooks: %w", err)
					}
					all = append(all, ws...)
					if next == "" {
						break
					}
					p.After = next
				}
				if asJSON {
					out := make([]webhookOut, len(all))
					for i, w := range all {
						out[i] = toWebhookOut(w, "")
					}
					return a.writeJSON(out)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCLIENT\tSTATUS\tEVENTS\tURL")
				for _, w := range all {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", w.ID, w.ClientID, w.Status, len(w.Events), w.URL)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&clientID, "client-id", "", "only this client's subscriptions")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}

func (a *app) webhookShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID [--json]",
		Short: "Show a webhook subscription (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withHooks(cmd, func(ctx context.Context, h *webhook.Service) error {
				w, err := h.Get(ctx, args[0])
				if err != nil {
					return fmt.Errorf("show webhook: %w", err)
				}
				return a.printWebhook(w, "", asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the subscription as JSON")
	return cmd
}

func (a *app) webhookUpdateCmd() *cobra.Command {
	var (
		url, description string
		events           []string
		asJSON           bool
	)
	cmd := &cobra.Command{
		Use:   "update ID [--url U] [--event T ...] [--description D] [--json]",
		Short: "Change a subscription's URL, event types (the list given replaces it) or description",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ch webhook.Changes
			fl := cmd.Flags()
			if fl.Changed("url") {
				ch.URL = &url
			}
			if fl.Changed("event") {
				ch.Events = &events
			}
			if fl.Changed("description") {
				ch.Description = &description
			}
			if ch.URL == nil && ch.Events == nil && ch.Description == nil {
				return fmt.Errorf("nothing to change: give --url, --event or --description")
			}
			return a.withHooks(cmd, func(ctx context.Context, h *webhook.Service) error {
				w, err := h.Update(ctx, args[0], ch)
				if err != nil {
					return fmt.Errorf("update webhook: %w", err)
				}
				return a.printWebhook(w, "", asJSON)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&url, "url", "", "the new receiver URL")
	fl.StringArrayVar(&events, "event", nil, "an event type (repeat; the list replaces the current one)")
	fl.StringVar(&description, "description", "", "the new description")
	fl.BoolVar(&asJSON, "json", false, "print the subscription as JSON")
	return cmd
}

// webhookStatusCmd is enable (resetting the failure run) or disable.
func (a *app) webhookStatusCmd(st webhook.Status) *cobra.Command {
	verb := strings.TrimSuffix(string(st), "d")
	short := "Enable a subscription (after a run of failures, say): its waiting deliveries go out"
	if st == webhook.StatusDisabled {
		short = "Disable a subscription: deliveries wait until it is enabled"
	}
	return &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withHooks(cmd, func(ctx context.Context, h *webhook.Service) error {
				w, err := h.Update(ctx, args[0], webhook.Changes{Status: &st})
				if err != nil {
					return fmt.Errorf("%s webhook: %w", verb, err)
				}
				fmt.Fprintf(a.stdout, "webhook %s is %s\n", w.ID, w.Status)
				return nil
			})
		},
	}
}

func (a *app) webhookRotateCmd() *cobra.Command {
	var (
		overlap time.Duration
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "rotate-secret ID [--overlap 24h] [--json]",
		Short: "Give a subscription a new signing secret (printed once); the old one signs too during the overlap",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ov *time.Duration
			if cmd.Flags().Changed("overlap") {
				ov = &overlap
			}
			return a.withHooks(cmd, func(ctx context.Context, h *webhook.Service) error {
				w, secret, err := h.RotateSecret(ctx, args[0], ov)
				if err != nil {
					return fmt.Errorf("rotate webhook secret: %w", err)
				}
				var until *time.Time
				if len(w.Secrets.Previous) > 0 {
					until = &w.Secrets.PreviousExpires
				}
				if asJSON {
					return a.writeJSON(struct {
						ID                string     `json:"id"`
						Secret            string     `json:"secret"`
						PreviousExpiresAt *time.Time `json:"previous_expires_at,omitempty"`
					}{w.ID, secret, until})
				}
				fmt.Fprintf(a.stdout, "new secret for webhook %s (shown once: store it now):\n%s\n", w.ID, secret)
				if until != nil {
					fmt.Fprintf(a.stdout, "the previous secret also signs until %s\n", until.UTC().Format(time.RFC3339))
				}
				return nil
			})
		},
	}
	cmd.Flags().DurationVar(&overlap, "overlap", 24*time.Hour, "how long the old secret keeps signing (0 to 168h)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the new secret as JSON")
	return cmd
}

func (a *app) webhookDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a subscription with its delivery log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withHooks(cmd, func(ctx context.Context, h *webhook.Service) error {
				if err := h.Delete(ctx, args[0]); err != nil {
					return fmt.Errorf("delete webhook: %w", err)
				}
				fmt.Fprintf(a.stdout, "deleted webhook %s\n", args[0])
				return nil
			})
		},
	}
}

// deliveryOut is one delivery as --json prints it.
type deliveryOut struct {
	ID              int64      `json:"id"`
	EventID         int64      `json:"event_id"`
	WebhookIDHeader string     `json:"webhook_id_header"`
	EventType       string     `json:"event_type"`
	Subject         string     `json:"subject"`
	Status          string     `json:"status"`
	Attempts        int        `json:"attempts"`
	ResponseStatus  int        `json:"response_status,omitempty"`
	LastError       string     `json:"last_error,omitempty"`
	LatencyMS       float64    `json:"latency_ms"`
	CreatedAt       time.Time  `json:"created_at"`
	NextAttemptAt   *time.Time `json:"next_attempt_at,omitempty"`
	DeliveredAt     *time.Time `json:"delivered_at,omitempty"`
}

func toDeliveryOut(d *webhook.Delivery) deliveryOut {
	return deliveryOut{ID: d.ID, EventID: d.EventID, WebhookIDHeader: webhook.MessageID(d.EventID),
		EventType: string(d.EventType), Subject: d.Subject, Status: string(d.Status), Attempts: d.Attempts,
		ResponseStatus: d.ResponseStatus, LastError: d.LastError, LatencyMS: float64(d.Latency.Microseconds()) / 1000,
		CreatedAt: d.CreatedAt, NextAttemptAt: optTime(d.NextAttemptAt), DeliveredAt: optTime(d.DeliveredAt)}
}

func (a *app) webhookDeliveriesCmd() *cobra.Command {
	var (
		status string
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "deliveries ID [--status pending|retrying|succeeded] [--limit N] [--json]",
		Short: "Show a subscription's delivery log, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withHooks(cmd, func(ctx context.Context, h *webhook.Service) error {
				ds, _, err := h.Deliveries(ctx, args[0], webhook.DeliveryStatus(status), store.Page{Limit: limit})
				if err != nil {
					return fmt.Errorf("list webhook deliveries: %w", err)
				}
				if asJSON {
					out := make([]deliveryOut, len(ds))
					for i, d := range ds {
						out[i] = toDeliveryOut(d)
					}
					return a.writeJSON(out)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tEVENT\tTYPE\tSUBJECT\tSTATUS\tATTEMPTS\tHTTP\tLAST ERROR")
				for _, d := range ds {
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\n", d.ID, d.EventID, d.EventType, d.Subject, d.Status,
						d.Attempts, d.ResponseStatus, d.LastError)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only deliveries in this status")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many (at most 1000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the deliveries as JSON")
	return cmd
}

func (a *app) webhookReplayCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay ID DELIVERY_ID [--json]",
		Short: "Queue a delivery again (same event, same webhook-id header, so receivers can de-duplicate)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			did, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || did <= 0 {
				return fmt.Errorf("DELIVERY_ID must be a positive integer")
			}
			return a.withHooks(cmd, func(ctx context.Context, h *webhook.Service) error {
				d, err := h.Replay(ctx, args[0], did)
				if err != nil {
					return fmt.Errorf("replay webhook delivery: %w", err)
				}
				if asJSON {
					return a.writeJSON(toDeliveryOut(d))
				}
				fmt.Fprintf(a.stdout, "queued delivery %d (a replay of %d, event %d)\n", d.ID, did, d.EventID)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the new delivery as JSON")
	return cmd
}
