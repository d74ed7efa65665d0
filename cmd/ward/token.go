package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ward/internal/actor"
	"ward/internal/oauth"
	"ward/internal/server"
	"ward/internal/store"
)

// maxTokenInput bounds what `ward token … -` reads from standard input.
const maxTokenInput = 16 << 10

// tokenJSON is a token as the token commands print it with --json (the
// management API's shape). No signature or stored request is ever printed.
type tokenJSON struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	ClientID  string    `json:"client_id"`
	UserID    int64     `json:"user_id,omitempty"`
	Scopes    []string  `json:"scopes"`
	Format    string    `json:"format,omitempty"`
	Service   bool      `json:"service"`
	Active    bool      `json:"active"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Patient   string    `json:"patient,omitempty"`
	FhirUser  string    `json:"fhirUser,omitempty"`
}

func toTokenJSON(in *oauth.TokenInfo) tokenJSON {
	out := tokenJSON{ID: in.ID, Kind: string(in.Kind), ClientID: in.ClientID, UserID: in.UserID,
		Scopes: in.Scopes, Format: in.Format, Service: in.Service, Active: in.Active,
		IssuedAt: in.IssuedAt.UTC(), ExpiresAt: in.ExpiresAt.UTC(), Patient: in.Patient, FhirUser: in.FhirUser}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	return out
}

func (a *app) printJSON(v any) error {
	if err := json.NewEncoder(a.stdout).Encode(v); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func (a *app) printToken(asJSON bool, in *oauth.TokenInfo) error {
	if asJSON {
		return a.printJSON(toTokenJSON(in))
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	kind := string(in.Kind)
	if in.Format != "" {
		kind += ", " + in.Format
	}
	fmt.Fprintf(tw, "token:\t%d (%s)\n", in.ID, kind)
	fmt.Fprintf(tw, "client:\t%s\n", in.ClientID)
	user := "none (the client's own token)"
	if in.UserID != 0 {
		user = strconv.FormatInt(in.UserID, 10)
	}
	fmt.Fprintf(tw, "user:\t%s\n", user)
	fmt.Fprintf(tw, "scopes:\t%s\n", strings.Join(in.Scopes, " "))
	fmt.Fprintf(tw, "issued:\t%s\n", in.IssuedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "expires:\t%s\n", in.ExpiresAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "active:\t%t\n", in.Active)
	fmt.Fprintf(tw, "service:\t%t\n", in.Service)
	if in.Patient != "" {
		fmt.Fprintf(tw, "patient:\t%s\n", in.Patient)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// readToken returns arg, or with "-" what standard input holds (so a token
// need not appear in the process list or shell history).
func readToken(arg string, in io.Reader) (string, error) {
	if arg != "-" {
		return arg, nil
	}
	b, err := io.ReadAll(io.LimitReader(in, maxTokenInput+1))
	if err != nil {
		return "", fmt.Errorf("read the token from standard input: %w", err)
	}
	if len(b) > maxTokenInput {
		return "", fmt.Errorf("standard input holds more than %d bytes: not a token", maxTokenInput)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("no token on standard input")
	}
	return tok, nil
}

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Inspect and revoke issued tokens (acting as the system)",
	}
	cmd.AddCommand(
		a.pastedTokenCmd("inspect", "Show a token's client, user, scopes, times and whether it is active",
			func(svc *server.Services, cmd *cobra.Command, tok string) (*oauth.TokenInfo, error) {
				return svc.OAuth.InspectToken(actor.System(cmd.Context()), tok)
			}),
		a.pastedTokenCmd("revoke", "Revoke a token and its grant (the tokens of the same authorization)",
			func(svc *server.Services, cmd *cobra.Command, tok string) (*oauth.TokenInfo, error) {
				return svc.OAuth.RevokeToken(actor.System(cmd.Context()), tok)
			}),
	)
	return cmd
}

func (a *app) pastedTokenCmd(verb, short string,
	do func(*server.Services, *cobra.Command, string) (*oauth.TokenInfo, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   verb + " TOKEN|- [--json]",
		Short: short,
		Long: short + `.

TOKEN is an access token (ward_at_… or a JWT) or a refresh token (ward_rt_…);
"-" reads it from standard input, which keeps it out of the shell history.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := readToken(args[0], a.stdin)
			if err != nil {
				return err
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				in, err := do(svc, cmd, tok)
				if err != nil {
					return fmt.Errorf("%s token: %w", verb, err)
				}
				if verb == "revoke" && !asJSON {
					// Say what was done before what the token now is, as
					// client revoke-token does.
					fmt.Fprintf(a.stdout, "revoked %s token %d of client %s, with its grant\n", in.Kind, in.ID, in.ClientID)
				}
				return a.printToken(asJSON, in)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the token as JSON")
	return cmd
}

// clientTokenCmds are the revocation tools under `ward client`.
func (a *app) clientTokenCmds() []*cobra.Command {
	return []*cobra.Command{a.clientUsersCmd(), a.clientRevokeUserCmd(), a.clientTokensCmd(), a.clientRevokeTokenCmd()}
}

type clientUserJSON struct {
	UserID     int64      `json:"user_id"`
	LiveTokens int        `json:"live_tokens"`
	LastIssued *time.Time `json:"last_issued,omitempty"`
	Consent    *struct {
		Scopes    []string  `json:"scopes"`
		GrantedAt time.Time `json:"granted_at"`
	} `json:"consent,omitempty"`
}

func (a *app) clientUsersCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "users CLIENT_ID [--json]",
		Short: "List the people who authorized a client (live tokens or a remembered consent)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				us, err := svc.OAuth.ClientUsers(actor.System(cmd.Context()), args[0])
				if err != nil {
					return fmt.Errorf("users of client %s: %w", args[0], err)
				}
				if asJSON {
					out := make([]clientUserJSON, len(us))
					for i, u := range us {
						out[i] = clientUserJSON{UserID: u.UserID, LiveTokens: u.LiveTokens}
						if !u.LastIssued.IsZero() {
							last := u.LastIssued.UTC()
							out[i].LastIssued = &last
						}
						if u.Consent != nil {
							out[i].Consent = &struct {
								Scopes    []string  `json:"scopes"`
								GrantedAt time.Time `json:"granted_at"`
							}{Scopes: u.Consent.Scopes, GrantedAt: u.Consent.GrantedAt.UTC()}
						}
					}
					return a.printJSON(out)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "USER_ID\tLIVE_TOKENS\tLAST_ISSUED\tCONSENTED_SCOPES")
				for _, u := range us {
					last, scopes := "-", "-"
					if !u.LastIssued.IsZero() {
						last = u.LastIssued.UTC().Format(time.RFC3339)
					}
					if u.Consent != nil {
						scopes = strings.Join(u.Consent.Scopes, " ")
					}
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", u.UserID, u.LiveTokens, last, scopes)
				}
				if err := tw.Flush(); err != nil {
					return fmt.Errorf("write output: %w", err)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the users as a JSON array")
	return cmd
}

// userRef resolves USER_ID, a user id or an email address.
func userRef(cmd *cobra.Command, svc *server.Services, ref string) (int64, error) {
	if strings.Contains(ref, "@") {
		u, err := userByEmail(cmd.Context(), svc.Directory, ref)
		if err != nil {
			return 0, err
		}
		return u.ID, nil
	}
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("user %q: give a positive user id or an email address", ref)
	}
	return id, nil
}

type revocationJSON struct {
	TokensRevoked     int `json:"tokens_revoked"`
	ConsentsWithdrawn int `json:"consents_withdrawn"`
}

func (a *app) clientRevokeUserCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke-user CLIENT_ID USER_ID|EMAIL [--json]",
		Short: "Revoke a person's authorization of a client: their tokens and remembered consents",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				uid, err := userRef(cmd, svc, args[1])
				if err != nil {
					return err
				}
				r, err := svc.OAuth.RevokeClientUser(actor.System(cmd.Context()), args[0], uid)
				if err != nil {
					return fmt.Errorf("revoke user %d of client %s: %w", uid, args[0], err)
				}
				if asJSON {
					return a.printJSON(revocationJSON{TokensRevoked: r.Tokens, ConsentsWithdrawn: r.Consents})
				}
				fmt.Fprintf(a.stdout, "revoked %d token(s) and withdrew %d consent(s) of user %d for client %s\n",
					r.Tokens, r.Consents, uid, args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"tokens_revoked":…,"consents_withdrawn":…}`)
	return cmd
}

func (a *app) clientTokensCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "tokens CLIENT_ID [--json]",
		Short: "List a client's live access and refresh tokens, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				ctx := actor.System(cmd.Context())
				all, err := allPages(func(p store.Page) ([]*oauth.TokenInfo, string, error) {
					return svc.OAuth.ClientTokens(ctx, args[0], p)
				})
				if err != nil {
					return fmt.Errorf("tokens of client %s: %w", args[0], err)
				}
				if asJSON {
					out := make([]tokenJSON, len(all))
					for i, t := range all {
						out[i] = toTokenJSON(t)
					}
					return a.printJSON(out)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TOKEN_ID\tKIND\tUSER_ID\tEXPIRES\tSCOPES")
				for _, t := range all {
					user := "-"
					if t.UserID != 0 {
						user = strconv.FormatInt(t.UserID, 10)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, user,
						t.ExpiresAt.UTC().Format(time.RFC3339), strings.Join(t.Scopes, " "))
				}
				if err := tw.Flush(); err != nil {
					return fmt.Errorf("write output: %w", err)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the tokens as a JSON array")
	return cmd
}

func (a *app) clientRevokeTokenCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke-token CLIENT_ID TOKEN_ID [--json]",
		Short: "Revoke one of a client's tokens (by its id, as `ward client tokens` lists it) and its grant",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("token id %q: give a positive integer", args[1])
			}
			return a.withServices(cmd, func(svc *server.Services) error {
				in, err := svc.OAuth.RevokeTokenByID(actor.System(cmd.Context()), args[0], id)
				if err != nil {
					return fmt.Errorf("revoke token %d of client %s: %w", id, args[0], err)
				}
				if asJSON {
					return a.printJSON(toTokenJSON(in))
				}
				fmt.Fprintf(a.stdout, "revoked %s token %d of client %s, with its grant\n", in.Kind, in.ID, in.ClientID)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the revoked token as JSON")
	return cmd
}

func (a *app) serviceAccountCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service-account",
		Short: "Service accounts: service users with long-lived API tokens (acting as the system)",
		Long: `A service account is a user whose single role is service, sponsored by an
administrator or an application developer, with one long-lived bearer token
(scope ` + oauth.ScopeAPI + `) for ward's management API. Its tokens belong to ward's
built-in client ` + oauth.ServiceAccountClientID + `: "ward client disable ` + oauth.ServiceAccountClientID + `"
stops every service token at once.`,
	}
	cmd.AddCommand(a.serviceAccountCreateCmd())
	return cmd
}

type serviceAccountJSON struct {
	ServiceUserID int64     `json:"service_user_id"`
	SponsorID     int64     `json:"sponsor_id"`
	Created       bool      `json:"created"`
	AccessToken   string    `json:"access_token"`
	TokenType     string    `json:"token_type"`
	Scope         string    `json:"scope"`
	ExpiresAt     time.Time `json:"expires_at"`
	TokenID       int64     `json:"token_id"`
	RevokedTokens int       `json:"revoked_tokens"`
}

func (a *app) serviceAccountCreateCmd() *cobra.Command {
	var (
		sponsor string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "create --sponsor EMAIL [--json]",
		Short: "Create (or find) the sponsor's service user and print a new token for it, once",
		Long: `Create the service user sponsored by EMAIL, or find the one it already has, and
issue it a new bearer token, printed once (ward keeps only its signature). The
service user's previous token is revoked: running this again rotates the token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withServices(cmd, func(svc *server.Services) error {
				u, err := userByEmail(cmd.Context(), svc.Directory, sponsor)
				if err != nil {
					return fmt.Errorf("--sponsor: %w", err)
				}
				sa, err := svc.OAuth.CreateServiceAccount(actor.System(cmd.Context()), u.ID)
				if err != nil {
					return fmt.Errorf("create service account: %w", err)
				}
				if asJSON {
					return a.printJSON(serviceAccountJSON{ServiceUserID: sa.User.ID, SponsorID: sa.SponsorID,
						Created: sa.Created, AccessToken: sa.Token, TokenType: "Bearer", Scope: oauth.ScopeAPI,
						ExpiresAt: sa.Info.ExpiresAt.UTC(), TokenID: sa.Info.ID, RevokedTokens: sa.Revoked})
				}
				state := "existing"
				if sa.Created {
					state = "created"
				}
				fmt.Fprintf(a.stdout, "service account %d (%s), sponsored by %s\n", sa.User.ID, state, u.Email)
				fmt.Fprintf(a.stdout, "access_token: %s\n(shown once: store it now; ward keeps only its signature)\n", sa.Token)
				fmt.Fprintf(a.stdout, "expires: %s\n", sa.Info.ExpiresAt.UTC().Format(time.RFC3339))
				if sa.Revoked > 0 {
					fmt.Fprintf(a.stdout, "revoked the previous token(s): %d\n", sa.Revoked)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&sponsor, "sponsor", "", "email of the sponsoring administrator or application developer (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"service_user_id":…,"access_token":…,…}`)
	_ = cmd.MarkFlagRequired("sponsor")
	return cmd
}
