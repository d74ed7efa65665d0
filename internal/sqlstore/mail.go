package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"ward/internal/apperr"
	"ward/internal/connector"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/mail"
)

// InsertMailMessage stores m in the transaction in ctx and sets m.ID.
func (d *DB) InsertMailMessage(ctx context.Context, m *mail.Outgoing) error {
	var sender any
	if m.SenderID != 0 {
		sender = m.SenderID
	}
	var sent any
	if m.SentAt != nil {
		sent = toMicro(*m.SentAt)
	}
	if err := d.wr(ctx).row(ctx, `INSERT INTO mail_messages (intervention, sender_id, recipient_id,
		recipient_address, subject, body, status, attempts, last_error, created_at, sent_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		m.Intervention, sender, m.RecipientID, m.RecipientAddress, m.Subject, m.Body, string(m.Status),
		m.Attempts, m.LastError, toMicro(m.CreatedAt), sent).Scan(&m.ID); err != nil {
		return classify(err, "store mail message")
	}
	m.CreatedAt = fromMicro(toMicro(m.CreatedAt))
	return nil
}

// mailSelect reads every column of a stored message (scanMail's order).
const mailSelect = `SELECT id, intervention, sender_id, recipient_id, recipient_address, subject,
	body, status, attempts, last_error, created_at, sent_at FROM mail_messages`

func scanMail(s scanner) (*mail.Outgoing, error) {
	var (
		m       mail.Outgoing
		sender  sql.NullInt64
		sent    sql.NullInt64
		status  string
		created int64
	)
	if err := s.Scan(&m.ID, &m.Intervention, &sender, &m.RecipientID, &m.RecipientAddress, &m.Subject, &m.Body,
		&status, &m.Attempts, &m.LastError, &created, &sent); err != nil {
		return nil, err
	}
	m.SenderID, m.Status, m.CreatedAt = sender.Int64, mail.Status(status), fromMicro(created)
	if sent.Valid {
		t := fromMicro(sent.Int64)
		m.SentAt = &t
	}
	return &m, nil
}

// GetMailMessage reads one stored message.
func (d *DB) GetMailMessage(ctx context.Context, id int64) (*mail.Outgoing, error) {
	m, err := scanMail(d.rd(ctx).row(ctx, mailSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("mail message", id)
	}
	if err != nil {
		return nil, classify(err, "get mail message")
	}
	return m, nil
}

// ListMailMessages returns the messages sent for an intervention in id
// order after afterID, at most limit.
func (d *DB) ListMailMessages(ctx context.Context, intervention string, afterID int64, limit int) ([]*mail.Outgoing, error) {
	return queryList(ctx, d.rd(ctx), "list mail messages", scanMail,
		mailSelect+` WHERE intervention = ? AND id > ? ORDER BY id LIMIT ?`, intervention, afterID, limit)
}

// SetMailDelivery records a delivery attempt's outcome.
func (d *DB) SetMailDelivery(ctx context.Context, id int64, status mail.Status, attempts int, lastError string, sentAt *time.Time) error {
	var sent any
	if sentAt != nil {
		sent = toMicro(*sentAt)
	}
	res, err := d.wr(ctx).exec(ctx, `UPDATE mail_messages SET status = ?, attempts = ?, last_error = ?, sent_at = ?
		WHERE id = ?`, string(status), attempts, lastError, sent, id)
	if err != nil {
		return classify(err, "record mail delivery")
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return notFound("mail message", id)
	}
	return nil
}

// GroupMemberIDs returns the ids of the members of the directory group
// named name, in id order, at most limit; NotFound for an unknown group.
func (d *DB) GroupMemberIDs(ctx context.Context, name string, limit int) ([]int64, error) {
	x := d.rd(ctx)
	var gid int64
	err := x.row(ctx, `SELECT id FROM groups WHERE name = ?`, name).Scan(&gid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "group %q not found", name)
	}
	if err != nil {
		return nil, classify(err, "read group")
	}
	return queryList(ctx, x, "list group members", func(s scanner) (int64, error) {
		var id int64
		return id, s.Scan(&id)
	}, `SELECT user_id FROM user_groups WHERE group_id = ? ORDER BY user_id LIMIT ?`, gid, limit)
}

// MailRecipients reads the address and standing of each of ids that
// exists, in id order.
func (d *DB) MailRecipients(ctx context.Context, ids []int64) ([]intervention.Recipient, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cond, arg := d.int64List("id", ids)
	out, err := queryList(ctx, d.rd(ctx), "read recipients", func(s scanner) (intervention.Recipient, error) {
		var (
			r       intervention.Recipient
			deleted sql.NullInt64
		)
		err := s.Scan(&r.UserID, &r.Email, &deleted)
		r.Deleted = deleted.Valid
		return r, err
	}, `SELECT id, email, deleted_at FROM users WHERE `+cond+` ORDER BY id`, arg)
	if err != nil {
		return nil, fmt.Errorf("mail recipients: %w", err)
	}
	return out, nil
}

// AdminMailboxes returns the users holding the admin role, not deleted,
// with an email address, in id order, at most limit: whom a connector's
// disconnection alert is mailed to.
func (d *DB) AdminMailboxes(ctx context.Context, limit int) ([]connector.Mailbox, error) {
	out, err := queryList(ctx, d.rd(ctx), "read administrators' addresses", func(s scanner) (connector.Mailbox, error) {
		var m connector.Mailbox
		return m, s.Scan(&m.UserID, &m.Email)
	}, `SELECT u.id, u.email FROM users u JOIN user_roles r ON r.user_id = u.id
		WHERE r.role_name = ? AND u.deleted_at IS NULL AND u.email <> ''
		ORDER BY u.id LIMIT ?`, directory.RoleAdmin, limit)
	if err != nil {
		return nil, fmt.Errorf("admin mailboxes: %w", err)
	}
	return out, nil
}

var (
	_ mail.Store                  = (*DB)(nil)
	_ intervention.RecipientStore = (*DB)(nil)
	_ connector.AdminMailboxes    = (*DB)(nil)
)
