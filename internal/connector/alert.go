package connector

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"ward/internal/mail"
)

// MaxAlertRecipients bounds the administrators one disconnection alert is
// mailed to: the look-up is bounded like every list, and more
// administrators than this is a deployment nobody runs.
const MaxAlertRecipients = 100

// Mailbox is an administrator an alert can be mailed to.
type Mailbox struct {
	UserID int64
	Email  string
}

// AdminMailboxes lists the active administrators that have an email
// address. Implemented by internal/sqlstore.
type AdminMailboxes interface {
	// AdminMailboxes returns the users holding the admin role, not
	// deleted, with a non-empty email, in id order, at most limit.
	AdminMailboxes(ctx context.Context, limit int) ([]Mailbox, error)
}

// AlertOutbox stores messages and queues their delivery in the caller's
// transaction (*mail.Outbox).
type AlertOutbox interface {
	Queue(ctx context.Context, msgs []*mail.Outgoing) error
}

// Alerts is what mailing a disconnection alert needs (Deps.Alerts); when
// either is nil the alert is the audit event and the log line only.
type Alerts struct {
	Admins AdminMailboxes
	Outbox AlertOutbox
}

// mailDisconnected queues, in the transaction in ctx, one message per
// active administrator with an address saying that c was disconnected
// at when. The body holds the connector's last error, which is the token
// endpoint's refusal as tokenclient reports it (no token, no secret).
// Messages are stored with an empty intervention: they were sent for no
// intervention, and no intervention's listing matches an empty name.
func (s *Service) mailDisconnected(ctx context.Context, c *Connector, when time.Time) error {
	a := s.d.Alerts
	if a.Admins == nil || a.Outbox == nil {
		return nil
	}
	admins, err := a.Admins.AdminMailboxes(ctx, MaxAlertRecipients)
	if err != nil {
		return fmt.Errorf("list administrators to alert: %w", err)
	}
	if len(admins) == 0 {
		return nil
	}
	subject, body := disconnectedMail(c, when)
	msgs := make([]*mail.Outgoing, 0, len(admins))
	for _, m := range admins {
		msgs = append(msgs, &mail.Outgoing{RecipientID: m.UserID, RecipientAddress: m.Email, Subject: subject, Body: body})
	}
	if err := a.Outbox.Queue(ctx, msgs); err != nil {
		return fmt.Errorf("queue the disconnection alert: %w", err)
	}
	return nil
}

// disconnectedMail is the alert's subject and body.
func disconnectedMail(c *Connector, when time.Time) (subject, body string) {
	subject = fmt.Sprintf("ward: connector %s disconnected", c.Name)
	body = fmt.Sprintf("The connector %s was disconnected at %s: its token endpoint refused to refresh its tokens.\n\n"+
		"Last error: %s\n\n"+
		"Calls through it fail until an administrator connects it again at /admin/connectors/%s/connect\n",
		c.Name, when.UTC().Format(time.RFC3339), oneLine(c.LastError), c.Name)
	return subject, body
}

// oneLine makes remote-controlled text (the error code a token endpoint
// answered) safe in a mail body: valid UTF-8, no NUL or other control
// character (the outbox refuses a body holding a NUL or invalid UTF-8 at
// delivery, and a stray line break could fake a line of ward's own).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
