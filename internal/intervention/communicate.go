package intervention

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/mail"
	"ward/internal/store"
)

// Limits of one communication.
const (
	// MaxSubjectLen is in characters: RFC 5322's recommended line length.
	MaxSubjectLen = 78
	// MaxMessageLen is in bytes.
	MaxMessageLen = 64 << 10
	// MaxRecipients bounds a list of users and a group's size alike.
	MaxRecipients = 500
)

// ProtocolEmail is the one protocol Communicate speaks.
const ProtocolEmail = "email"

// CommunicateRequest is what to send and to whom: a directory group's
// members or a list of users, not both.
type CommunicateRequest struct {
	Protocol string
	Group    string
	Users    []int64
	Subject  string
	Message  string
}

// Recipient is what Communicate needs to know about a person it may write
// to.
type Recipient struct {
	UserID  int64
	Email   string
	Deleted bool
}

// RecipientStore reads whom to write to. Implemented by internal/sqlstore.
type RecipientStore interface {
	// GroupMemberIDs returns the members of the directory group named
	// name, in id order, at most limit; NotFound for an unknown group.
	GroupMemberIDs(ctx context.Context, name string, limit int) ([]int64, error)
	// MailRecipients reads those of ids that exist, in id order.
	MailRecipients(ctx context.Context, ids []int64) ([]Recipient, error)
}

// Outbox stores messages and queues their delivery in the caller's
// transaction (*mail.Outbox).
type Outbox interface {
	Queue(ctx context.Context, msgs []*mail.Outgoing) error
}

// MessageLog reads the messages sent for an intervention (*sqlstore.DB).
type MessageLog interface {
	// ListMailMessages returns them in id order after afterID, at most
	// limit.
	ListMailMessages(ctx context.Context, intervention string, afterID int64, limit int) ([]*mail.Outgoing, error)
}

// Mail is what Communicate and Messages need (Deps.Mail); without it they
// are Unavailable.
type Mail struct {
	Recipients RecipientStore
	Outbox     Outbox
	Messages   MessageLog
}

// MessageResult is one recipient's message.
type MessageResult struct {
	UserID    int64
	MessageID int64
	Status    mail.Status
}

// Skipped is a requested recipient no message was stored for, and why.
type Skipped struct {
	UserID int64
	Reason string
}

// Reasons a recipient is skipped. A deleted and an unknown user are
// reported alike, so the answer does not tell one from the other.
const (
	SkipUnknown      = "unknown or deactivated user"
	SkipNoEmail      = "no email address"
	SkipInvalidEmail = "email address cannot be used"
)

// CommunicateResult is what Communicate stored.
type CommunicateResult struct {
	Messages []MessageResult
	Skipped  []Skipped
}

func (r *CommunicateRequest) validate() error {
	if r.Protocol != ProtocolEmail {
		return apperr.New(apperr.Invalid, "protocol must be %q", ProtocolEmail)
	}
	if r.Subject == "" || utf8.RuneCountInString(r.Subject) > MaxSubjectLen {
		return apperr.New(apperr.Invalid, "subject must be 1 to %d characters", MaxSubjectLen)
	}
	if err := mail.CheckHeaderText(r.Subject); err != nil {
		return apperr.New(apperr.Invalid, "subject must be one line of UTF-8 text without NUL")
	}
	if strings.TrimSpace(r.Message) == "" {
		return apperr.New(apperr.Invalid, "message must not be empty")
	}
	if err := checkText("message", r.Message, MaxMessageLen); err != nil {
		return err
	}
	switch {
	case r.Group != "" && r.Users != nil:
		return apperr.New(apperr.Invalid, "name either a group or users, not both")
	case r.Group != "":
		if err := checkText("group", r.Group, 200); err != nil {
			return err
		}
	case len(r.Users) == 0:
		return apperr.New(apperr.Invalid, "name a group or a non-empty list of users")
	case len(r.Users) > MaxRecipients:
		return apperr.New(apperr.Invalid, "at most %d users at once", MaxRecipients)
	}
	for _, id := range r.Users {
		if id <= 0 {
			return apperr.New(apperr.Invalid, "user ids must be positive integers")
		}
	}
	return nil
}

// Communicate sends req's message for intervention name to each
// recipient: one stored message per recipient, queued for delivery (or
// stored as not sent when no mail transport is configured), and one
// intervention.message_sent audit event, all in one transaction. The
// event names the recipients' count and the message ids, never the
// message.
//
// Who may send is stricter than the reference (which lets any signed-in
// user): an administrator, the service account of the intervention's own
// client, or staff (staff, staff_admin) who may view every recipient under
// check_role. Deleted users, users without an address and unusable
// addresses are skipped and reported; when nobody is left it is Invalid.
func (s *Service) Communicate(ctx context.Context, name string, req CommunicateRequest) (*CommunicateResult, error) {
	a := actor.From(ctx)
	if a.Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	m := s.d.Mail
	if m.Recipients == nil || m.Outbox == nil {
		return nil, apperr.New(apperr.Unavailable, "communication is not set up in this process")
	}
	var out *CommunicateResult
	err := s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		iv, err := s.d.Store.GetIntervention(ctx, name)
		if err != nil {
			return err
		}
		checkEach, err := s.mayCommunicate(ctx, iv)
		if err != nil {
			return err
		}
		ids := req.Users
		if req.Group != "" {
			ids, err = m.Recipients.GroupMemberIDs(ctx, req.Group, MaxRecipients+1)
			if apperr.Is(err, apperr.NotFound) {
				return apperr.New(apperr.Invalid, "no group is named %q", req.Group)
			}
			if err != nil {
				return fmt.Errorf("read group members: %w", err)
			}
			if len(ids) > MaxRecipients {
				return apperr.New(apperr.Invalid, "group %q has more than %d members", req.Group, MaxRecipients)
			}
		}
		ids = slices.Compact(slices.Sorted(slices.Values(ids)))
		found, err := m.Recipients.MailRecipients(ctx, ids)
		if err != nil {
			return err
		}
		res := &CommunicateResult{}
		var msgs []*mail.Outgoing
		byID := make(map[int64]Recipient, len(found))
		for _, r := range found {
			byID[r.UserID] = r
		}
		for _, id := range ids {
			r, ok := byID[id]
			switch {
			case !ok || r.Deleted:
				res.Skipped = append(res.Skipped, Skipped{id, SkipUnknown})
				continue
			case checkEach:
				// Staff must be allowed to act on every live recipient:
				// one refusal refuses the whole send.
				if err := s.d.Directory.CheckRole(ctx, directory.View, id); err != nil {
					if apperr.Is(err, apperr.Forbidden) || apperr.Is(err, apperr.NotFound) {
						return apperr.New(apperr.Forbidden, "you may not write to user %d", id)
					}
					return err
				}
			}
			switch {
			case r.Email == "":
				res.Skipped = append(res.Skipped, Skipped{id, SkipNoEmail})
			case mail.CheckAddress(r.Email) != nil:
				res.Skipped = append(res.Skipped, Skipped{id, SkipInvalidEmail})
			default:
				msgs = append(msgs, &mail.Outgoing{Intervention: name, SenderID: a.UserID, RecipientID: id,
					RecipientAddress: r.Email, Subject: req.Subject, Body: req.Message})
			}
		}
		if len(msgs) == 0 {
			return apperr.New(apperr.Invalid, "none of the %d recipients can be written to", len(ids))
		}
		if err := m.Outbox.Queue(ctx, msgs); err != nil {
			return err
		}
		msgIDs := make([]int64, len(msgs))
		for i, msg := range msgs {
			msgIDs[i] = msg.ID
			res.Messages = append(res.Messages, MessageResult{UserID: msg.RecipientID, MessageID: msg.ID, Status: msg.Status})
		}
		fields := map[string]any{"protocol": req.Protocol, "recipients": len(msgs), "message_ids": msgIDs,
			"skipped": len(res.Skipped), "status": string(msgs[0].Status)}
		if req.Group != "" {
			fields["group"] = req.Group
		}
		if err := s.d.Audit.Record(ctx, audit.Change{Type: audit.InterventionMessageSent,
			Subject: audit.Ref("Intervention", name), Fields: fields,
			Comment: fmt.Sprintf("intervention %s: %s to %d recipients", name, req.Protocol, len(msgs))}); err != nil {
			return fmt.Errorf("record audit event: %w", err)
		}
		out = res
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// mayCommunicate decides who may send for iv: ward itself, an admin, or
// iv's own service account send to anyone (checkEach false); staff and
// staff_admin send only to people check_role lets them view (checkEach
// true); everyone else is refused.
func (s *Service) mayCommunicate(ctx context.Context, iv *Intervention) (checkEach bool, err error) {
	a := actor.From(ctx)
	if a.System {
		return false, nil
	}
	refused := apperr.New(apperr.Forbidden,
		"only an administrator, staff of the recipients' organizations or intervention %s's own service account may communicate", iv.Name)
	if a.UserID == 0 {
		return false, refused
	}
	roles, err := s.d.Directory.UserRoles(ctx, a.UserID)
	if err != nil {
		if k := apperr.KindOf(err); k == apperr.NotFound || k == apperr.Forbidden {
			return false, apperr.Wrap(apperr.Unauthenticated, err, "the signed-in account is no longer active")
		}
		return false, fmt.Errorf("read the caller's roles: %w", err)
	}
	switch {
	case slices.Contains(roles, directory.RoleAdmin):
		return false, nil
	case slices.Contains(roles, directory.RoleService):
		if _, err := s.requireInterventionAccount(ctx, iv); err != nil {
			if apperr.Is(err, apperr.Forbidden) {
				return false, refused
			}
			return false, err
		}
		return false, nil
	case slices.Contains(roles, directory.RoleStaff) || slices.Contains(roles, directory.RoleStaffAdmin):
		return true, nil
	}
	return false, refused
}

// Messages returns the messages sent for intervention name, a page at a
// time in the order they were stored, with the cursor of the next page
// ("" on the last). Only an administrator (or ward itself) and the
// intervention's own service account may read them; staff may not, as
// the list names recipients they may not be allowed to view.
func (s *Service) Messages(ctx context.Context, name string, p store.Page) ([]*mail.Outgoing, string, error) {
	a := actor.From(ctx)
	if a.Anonymous() {
		return nil, "", apperr.New(apperr.Unauthenticated, "sign in first")
	}
	if err := CheckName(name); err != nil {
		return nil, "", err
	}
	if s.d.Mail.Messages == nil {
		return nil, "", apperr.New(apperr.Unavailable, "communication is not set up in this process")
	}
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	p = p.Normalize()
	iv, err := s.d.Store.GetIntervention(ctx, name)
	if err != nil {
		return nil, "", err
	}
	if err := s.requireAdmin(ctx); err != nil {
		if !apperr.Is(err, apperr.Forbidden) {
			return nil, "", err
		}
		if _, err := s.requireInterventionAccount(ctx, iv); err != nil {
			if apperr.Is(err, apperr.Forbidden) {
				return nil, "", apperr.New(apperr.Forbidden,
					"only an administrator or intervention %s's own service account may list its messages", name)
			}
			return nil, "", err
		}
	}
	msgs, err := s.d.Mail.Messages.ListMailMessages(ctx, name, after, p.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list messages: %w", err)
	}
	next := ""
	if len(msgs) > p.Limit {
		msgs = msgs[:p.Limit]
		next = store.EncodeCursor(msgs[len(msgs)-1].ID)
	}
	return msgs, next, nil
}
