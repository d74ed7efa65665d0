package connector

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
)

// ErrDisconnected is the error (apperr.Unavailable) of Token and Rejected
// for a connector that is unprimed or disconnected: an administrator must
// prime it (again) before any call can succeed, so callers fail at once.
var ErrDisconnected = errors.New("connector is not connected")

func notConnected(c *Connector) error {
	if c.Status == StatusUnprimed {
		return apperr.Wrap(apperr.Unavailable, ErrDisconnected,
			"connector %s is not primed yet: an administrator must connect it at /admin/connectors/%s/connect", c.Name, c.Name)
	}
	return apperr.Wrap(apperr.Unavailable, ErrDisconnected,
		"connector %s is disconnected (%s): an administrator must connect it again at /admin/connectors/%s/connect",
		c.Name, c.LastError, c.Name)
}

// Token returns a valid access token of the connector, refreshing it first
// when it is expired or about to be. An unprimed or disconnected connector
// is an apperr.Unavailable wrapping ErrDisconnected, at once. It checks no
// caller: it is for ward's own code (the MIS client), never an edge.
func (s *Service) Token(ctx context.Context, name string) (string, error) {
	return s.refresh(ctx, name, "")
}

// Rejected is what a caller does when the remote answered 401 to token:
// the token is refreshed once, unless another caller has already replaced
// it, and the current token is returned.
func (s *Service) Rejected(ctx context.Context, name, token string) (string, error) {
	if token == "" {
		return "", apperr.New(apperr.Invalid, "Rejected needs the token the remote refused")
	}
	return s.refresh(ctx, name, token)
}

// Refresh refreshes the connector's tokens when they are due (the River
// worker's step); a connector not connected is left alone.
func (s *Service) Refresh(ctx context.Context, name string) error {
	_, err := s.refresh(ctx, name, "")
	if errors.Is(err, ErrDisconnected) {
		return nil
	}
	return err
}

// RefreshDue refreshes every connected connector whose token is due (the
// periodic sweep, a safety net under the scheduled jobs). It returns the
// first error after trying them all.
func (s *Service) RefreshDue(ctx context.Context) error {
	cs, err := s.d.Store.ListConnectors(ctx)
	if err != nil {
		return fmt.Errorf("list connectors: %w", err)
	}
	var first error
	for _, c := range cs {
		if c.Status != StatusConnected || !s.due(c) {
			continue
		}
		if err := s.Refresh(ctx, c.Name); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// refresh returns a valid token, refreshing when needed: when rejected is
// "", when the stored one is due; otherwise when the stored one is still
// rejected. The refresh is claimed through the database: a lease written
// by compare-and-swap on the version, so across replicas one caller spends
// the refresh token and the others wait for its result.
func (s *Service) refresh(ctx context.Context, name, rejected string) (string, error) {
	deadline := s.cfg.Lease + s.cfg.Lease/2
	for waited := time.Duration(0); ; {
		c, err := s.d.Store.GetConnector(ctx, name)
		if err != nil {
			return "", err
		}
		if c.Status != StatusConnected {
			return "", notConnected(c)
		}
		access, err := s.open(name, fieldAccess, c.Secrets.AccessToken)
		if err != nil {
			return "", err
		}
		if rejected == "" && !s.due(c) || rejected != "" && access != rejected {
			return access, nil
		}
		if s.now().Before(c.LeaseUntil) {
			// Another caller is refreshing; wait for its result.
			if waited >= deadline {
				return "", apperr.New(apperr.Unavailable, "connector %s: a refresh by another replica is taking too long; try again", name)
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(s.cfg.Poll):
			}
			waited += s.cfg.Poll
			continue
		}
		c.LeaseUntil = s.now().Add(s.cfg.Lease)
		if err := s.d.Tx.InTx(ctx, func(ctx context.Context) error { return s.d.Store.UpdateConnector(ctx, c) }); err != nil {
			if apperr.Is(err, apperr.Conflict) {
				continue // another caller claimed it first: read again
			}
			return "", fmt.Errorf("claim connector %s refresh: %w", name, err)
		}
		return s.spend(ctx, c)
	}
}

// spend makes the refresh call for c, claimed by the caller, and stores
// the outcome with the claim's version, releasing the claim.
func (s *Service) spend(ctx context.Context, c *Connector) (string, error) {
	// From here the work outlives the caller's context: a refresh token
	// sent must have its answer stored even if the caller gave up, or the
	// next refresh would offer a token the remote has already rotated.
	// The outbound client's timeout bounds the call.
	ctx = context.WithoutCancel(actor.System(ctx))
	rt, err := s.open(c.Name, fieldRefresh, c.Secrets.RefreshToken)
	if err != nil {
		return "", err
	}
	secret, err := s.open(c.Name, fieldClientSecret, c.Secrets.ClientSecret)
	if err != nil {
		return "", err
	}
	res, callErr := s.d.Tokens.Token(ctx, TokenRequest{URL: c.TokenURL, ClientID: c.ClientID, ClientSecret: secret,
		Params: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}})
	if callErr == nil && res.AccessToken == "" {
		callErr = errors.New("token endpoint answered without an access token")
	}
	now := s.now()
	var event audit.EventType
	switch {
	case callErr == nil:
		if err := s.setTokens(c, res, rt); err != nil {
			return "", err
		}
		event = audit.ConnectorRefreshed
	case Permanent(callErr):
		c.Status, c.LastError, c.LeaseUntil, c.UpdatedAt = StatusDisconnected, callErr.Error(), time.Time{}, now
		event = audit.ConnectorDisconnected
	default:
		c.LastError, c.LeaseUntil, c.UpdatedAt = callErr.Error(), time.Time{}, now
	}
	err = s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.d.Store.UpdateConnector(ctx, c); err != nil {
			return err
		}
		switch event {
		case audit.ConnectorRefreshed:
			if err := s.record(ctx, event, c, "tokens refreshed"); err != nil {
				return err
			}
			return s.schedule(ctx, c)
		case audit.ConnectorDisconnected:
			if err := s.record(ctx, event, c, "the token endpoint refused the refresh; prime it again"); err != nil {
				return err
			}
			// Once per disconnection: spend runs only on a connector
			// that was connected, claimed by this caller.
			return s.mailDisconnected(ctx, c, now)
		}
		return nil
	})
	if err != nil {
		// Lost: the tokens just obtained could not be stored (the claim
		// expired and another replica wrote). Say so loudly.
		s.cfg.Logger.ErrorContext(ctx, "connector: could not store the refresh outcome", "connector", c.Name, "err", err)
		return "", fmt.Errorf("store connector %s refresh: %w", c.Name, err)
	}
	switch {
	case callErr == nil:
		s.cfg.Logger.InfoContext(ctx, "connector: tokens refreshed", "connector", c.Name, "expiry", c.Expiry)
		return res.AccessToken, nil
	case event == audit.ConnectorDisconnected:
		s.cfg.Logger.ErrorContext(ctx, "ALERT connector disconnected: the token endpoint refused the refresh; an administrator must connect it again",
			"connector", c.Name, "err", callErr)
		return "", notConnected(c)
	default:
		s.cfg.Logger.WarnContext(ctx, "connector: refresh failed, will retry", "connector", c.Name, "err", callErr)
		return "", apperr.Wrap(apperr.Unavailable, callErr, "connector %s: the token endpoint could not be reached; try again shortly", c.Name)
	}
}
