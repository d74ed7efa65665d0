package connector

import (
	"context"
	"fmt"

	"ward/internal/apperr"
	"ward/internal/audit"
)

// Call authorizes and audits one pass-through call to a connector's remote
// API (the management API's /api/connector/{name}/... routes), before the
// caller makes it: only ward itself or an administrator may call through,
// a connector that is not connected fails at once (apperr.Unavailable,
// wrapping ErrDisconnected) without reaching the remote, and each call
// leaves a connector.called event naming the operation, never a body, so
// PHI read or written through ward stays out of the audit log.
func (s *Service) Call(ctx context.Context, name, operation string) error {
	if err := s.requireAdmin(ctx); err != nil {
		return err
	}
	if err := CheckName(name); err != nil {
		return err
	}
	if operation == "" {
		return apperr.New(apperr.Invalid, "a connector call names its operation")
	}
	return s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.d.Store.GetConnector(ctx, name)
		if err != nil {
			return err
		}
		if c.Status != StatusConnected {
			return notConnected(c)
		}
		if err := s.d.Audit.Record(ctx, audit.Change{Type: audit.ConnectorCalled, Subject: audit.Ref("Connector", c.Name),
			Fields:  map[string]any{"connector": c.Name, "operation": operation},
			Comment: "connector " + c.Name + ": " + operation}); err != nil {
			return fmt.Errorf("record audit event: %w", err)
		}
		return nil
	})
}
