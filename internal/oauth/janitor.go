package oauth

import (
	"context"
	"fmt"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/oauth/tokens"
)

// The token janitor (seed 001's token_janitor): internal/jobs runs these
// periodically, once across replicas. Both are idempotent and safe to run
// concurrently.

// purgeBatch bounds one DELETE of the janitor, so a large backlog is worked
// off in short statements that never hold the write lock for long.
const purgeBatch = 1000

// PurgeExpiredTokens deletes every issued-token record (codes, access and
// refresh tokens, PKCE and OpenID Connect state, revoked or not) whose
// expiry has passed, in batches, and returns how many. A revoked token is
// kept until then so a replay is recognised; after expiry nothing can use
// it. The deletions are housekeeping by ward itself, not a change made by a
// person or client, so they are logged rather than audited.
func (p *Provider) PurgeExpiredTokens(ctx context.Context) (int, error) {
	now := p.now()
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("purge expired tokens: %w", err)
		}
		n, err := p.d.Tokens.DeleteExpiredTokens(ctx, now, purgeBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("purge expired tokens: %w", err)
		}
		if n < purgeBatch {
			break
		}
	}
	if total > 0 {
		p.log.InfoContext(ctx, "token janitor: expired tokens deleted", "count", total)
	}
	return total, nil
}

// AlertExpiringServiceTokens alerts the sponsor of every active service
// token that expires within window from now, once per token, and returns
// how many it alerted. The alert is an audit event about the sponsor (so it
// shows in their audit trail) and a warning in the log naming the service
// user and the sponsor. Each token is marked alerted in the same
// transaction as its audit event (tokens.Store.MarkServiceTokenAlerted), so
// neither a later run nor another replica alerts it again; a token issued
// afresh (ward service-account create) is a new row and is alerted in its
// turn.
func (p *Provider) AlertExpiringServiceTokens(ctx context.Context, window time.Duration) (int, error) {
	if window <= 0 {
		return 0, apperr.New(apperr.Invalid, "service token alert window %v must be positive", window)
	}
	ctx = actor.System(ctx)
	now := p.now()
	ts, err := p.d.Tokens.ServiceTokensExpiring(ctx, tokens.Expiring{From: now, To: now.Add(window), Unalerted: true})
	if err != nil {
		return 0, fmt.Errorf("service tokens expiring: %w", err)
	}
	alerted := 0
	for _, t := range ts {
		var (
			sent         bool
			sponsorID    int64
			sponsorEmail string
		)
		err := p.d.Tx.InTx(ctx, func(ctx context.Context) error {
			ok, err := p.d.Tokens.MarkServiceTokenAlerted(ctx, t.ID, now)
			if err != nil || !ok {
				return err // !ok: another run alerted it first
			}
			if sponsorID, sponsorEmail, err = p.sponsorOf(ctx, t.UserID); err != nil {
				return err
			}
			subject := sponsorID
			if subject == 0 {
				subject = t.UserID
			}
			sent = true
			return p.auditTool(ctx, audit.Change{Type: audit.TokenExpiring, Subject: audit.Ref("Token", t.ID), SubjectID: subject,
				Fields: map[string]any{"service_account": t.UserID, "sponsor": sponsorID, "expires": t.ExpiresAt.UTC().Format(time.RFC3339)}},
				"service token %d of service account %d (sponsor %d) expires %s: issue a new one before then",
				t.ID, t.UserID, sponsorID, t.ExpiresAt.UTC().Format(time.RFC3339))
		})
		if err != nil {
			return alerted, fmt.Errorf("alert about service token %d: %w", t.ID, err)
		}
		if !sent {
			continue
		}
		alerted++
		p.log.WarnContext(ctx, "token janitor: service token expiring soon",
			"token_id", t.ID, "service_user", t.UserID, "sponsor_id", sponsorID, "sponsor_email", sponsorEmail,
			"expires_at", t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return alerted, nil
}
