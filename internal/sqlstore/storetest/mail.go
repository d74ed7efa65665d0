package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/connector"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/mail"
)

// MailBackend is a Backend with the mail outbox and the recipient
// look-ups Communicate reads. Its cases run through RunMail, like the
// document cases, so they need no field in Backend.
type MailBackend struct {
	Backend
	Mail       mail.Store
	Recipients intervention.RecipientStore
	// Admins lists whom a connector's disconnection alert goes to.
	Admins connector.AdminMailboxes
}

// RunMail runs every mail conformance case, each on a backend from open.
func RunMail(t *testing.T, open func(t *testing.T) MailBackend) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, b MailBackend)
	}{
		{"MailRoundTrip", testMailRoundTrip},
		{"MailRollback", testMailRollback},
		{"ListMailMessages", testListMailMessages},
		{"MailPurgedUsers", testMailPurgedUsers},
		{"MailRecipients", testMailRecipients},
		{"GroupMemberIDs", testGroupMemberIDs},
		{"AdminMailboxes", testAdminMailboxes},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// fullMessage sets every field to a non-zero value.
func fullMessage(sender, recipient int64) *mail.Outgoing {
	return &mail.Outgoing{Intervention: "care_plan", SenderID: sender, RecipientID: recipient,
		RecipientAddress: "pat@example.org", Subject: "Rendez-vous ✓", Body: "Line 1\nLine 2",
		Status: mail.StatusQueued, Attempts: 2, LastError: "451 later", CreatedAt: micro(base),
		SentAt: microPtr(base.Add(time.Minute))}
}

func insertMessage(t *testing.T, b MailBackend, m *mail.Outgoing) {
	t.Helper()
	must(t, b.Tx.InTx(t.Context(), func(ctx context.Context) error { return b.Mail.InsertMailMessage(ctx, m) }), "insert message")
}

func testMailRoundTrip(t *testing.T, b MailBackend) {
	ctx := t.Context()
	sender, pat := newUser(t, b.Backend, "s@example.org"), newUser(t, b.Backend, "pat@example.org")
	m := fullMessage(sender.ID, pat.ID)
	insertMessage(t, b, m)
	if m.ID == 0 {
		t.Fatal("no id set")
	}
	got, err := b.Mail.GetMailMessage(ctx, m.ID)
	must(t, err, "get message")
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, m)
	}
	sent := micro(base.Add(time.Hour))
	must(t, b.Mail.SetMailDelivery(ctx, m.ID, mail.StatusSent, 3, "", &sent), "set delivery")
	got, err = b.Mail.GetMailMessage(ctx, m.ID)
	must(t, err, "get message")
	if got.Status != mail.StatusSent || got.Attempts != 3 || got.LastError != "" || got.SentAt == nil || !got.SentAt.Equal(sent) {
		t.Fatalf("after delivery %+v", got)
	}
	must(t, b.Mail.SetMailDelivery(ctx, m.ID, mail.StatusFailed, 4, "550 no", nil), "set delivery")
	if got, _ = b.Mail.GetMailMessage(ctx, m.ID); got.SentAt != nil || got.Status != mail.StatusFailed || got.LastError != "550 no" {
		t.Fatalf("after failure %+v", got)
	}
	// Ward itself as sender is stored as no sender.
	sys := fullMessage(0, pat.ID)
	sys.SentAt = nil
	insertMessage(t, b, sys)
	if got, err = b.Mail.GetMailMessage(ctx, sys.ID); err != nil || got.SenderID != 0 || got.SentAt != nil {
		t.Fatalf("system message %+v, %v", got, err)
	}
	if _, err := b.Mail.GetMailMessage(ctx, 1<<40); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown message: %v", err)
	}
	if err := b.Mail.SetMailDelivery(ctx, 1<<40, mail.StatusSent, 1, "", nil); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("delivery of an unknown message: %v", err)
	}
	bad := fullMessage(sender.ID, pat.ID)
	bad.Status = "lost"
	if err := b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Mail.InsertMailMessage(ctx, bad) }); err == nil {
		t.Fatal("an unknown status was stored")
	}
}

// testMailRollback: a message inserted in a transaction that fails is
// not stored.
func testMailRollback(t *testing.T, b MailBackend) {
	pat := newUser(t, b.Backend, "pat@example.org")
	m := fullMessage(0, pat.ID)
	boom := errors.New("boom")
	err := b.Tx.InTx(t.Context(), func(ctx context.Context) error {
		if err := b.Mail.InsertMailMessage(ctx, m); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v", err)
	}
	if _, err := b.Mail.GetMailMessage(t.Context(), m.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a rolled-back message is readable: %v", err)
	}
}

// testMailPurgedUsers: purging a recipient removes their messages;
// purging a sender keeps the message without its sender.
func testMailPurgedUsers(t *testing.T, b MailBackend) {
	ctx := t.Context()
	sender, pat := newUser(t, b.Backend, "s@example.org"), newUser(t, b.Backend, "pat@example.org")
	toPat, toSender := fullMessage(sender.ID, pat.ID), fullMessage(pat.ID, sender.ID)
	insertMessage(t, b, toPat)
	insertMessage(t, b, toSender)
	must(t, b.Directory.PurgeUser(ctx, pat.ID), "purge")
	if _, err := b.Mail.GetMailMessage(ctx, toPat.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a purged recipient's message remains: %v", err)
	}
	got, err := b.Mail.GetMailMessage(ctx, toSender.ID)
	if err != nil || got.SenderID != 0 {
		t.Fatalf("a purged sender's message: %+v, %v", got, err)
	}
}

func testMailRecipients(t *testing.T, b MailBackend) {
	ctx := t.Context()
	a, none, gone := newUser(t, b.Backend, "a@example.org"), newUser(t, b.Backend, ""), newUser(t, b.Backend, "gone@example.org")
	must(t, b.Directory.SetUserDeleted(ctx, gone.ID, microPtr(base)), "delete")
	got, err := b.Recipients.MailRecipients(ctx, []int64{gone.ID, 1 << 40, none.ID, a.ID})
	must(t, err, "recipients")
	want := []intervention.Recipient{{UserID: a.ID, Email: "a@example.org"}, {UserID: none.ID}, {UserID: gone.ID, Email: "gone@example.org", Deleted: true}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("recipients %+v, want %+v", got, want)
	}
	if got, err := b.Recipients.MailRecipients(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("no ids: %v, %v", got, err)
	}
}

// testAdminMailboxes: the administrators not deleted and with an
// address, in id order, at most limit; other roles are not listed.
func testAdminMailboxes(t *testing.T, b MailBackend) {
	ctx := t.Context()
	a := newUser(t, b.Backend, "a@example.org", directory.RoleAdmin)
	newUser(t, b.Backend, "staff@example.org", directory.RoleStaff)
	newUser(t, b.Backend, "", directory.RoleAdmin)
	gone := newUser(t, b.Backend, "gone@example.org", directory.RoleAdmin)
	must(t, b.Directory.SetUserDeleted(ctx, gone.ID, microPtr(base)), "delete")
	c := newUser(t, b.Backend, "c@example.org", directory.RoleStaff, directory.RoleAdmin)
	got, err := b.Admins.AdminMailboxes(ctx, 10)
	must(t, err, "admin mailboxes")
	want := []connector.Mailbox{{UserID: a.ID, Email: "a@example.org"}, {UserID: c.ID, Email: "c@example.org"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("admin mailboxes %+v, want %+v", got, want)
	}
	if got, _ := b.Admins.AdminMailboxes(ctx, 1); !reflect.DeepEqual(got, want[:1]) {
		t.Fatalf("limited admin mailboxes %+v", got)
	}
}

func testGroupMemberIDs(t *testing.T, b MailBackend) {
	ctx := t.Context()
	g, other := &directory.Group{Name: "cohort", Description: "d"}, &directory.Group{Name: "other"}
	must(t, b.Directory.CreateGroup(ctx, g), "create group")
	must(t, b.Directory.CreateGroup(ctx, other), "create group")
	var ids []int64
	for _, e := range []string{"1@example.org", "2@example.org", "3@example.org"} {
		u := newUser(t, b.Backend, e)
		must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{g.ID}), "set groups")
		ids = append(ids, u.ID)
	}
	outsider := newUser(t, b.Backend, "4@example.org")
	must(t, b.Directory.SetUserGroups(ctx, outsider.ID, []int64{other.ID}), "set groups")
	got, err := b.Recipients.GroupMemberIDs(ctx, "cohort", 10)
	must(t, err, "members")
	if !slices.Equal(got, ids) {
		t.Fatalf("members %v, want %v", got, ids)
	}
	if got, _ := b.Recipients.GroupMemberIDs(ctx, "cohort", 2); !slices.Equal(got, ids[:2]) {
		t.Fatalf("limited members %v", got)
	}
	if _, err := b.Recipients.GroupMemberIDs(ctx, "Cohort", 10); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown group: %v", err)
	}
}

// testListMailMessages: an intervention's messages in id order, after a
// cursor, at most a limit; another intervention's are not listed.
func testListMailMessages(t *testing.T, b MailBackend) {
	ctx := t.Context()
	pat := newUser(t, b.Backend, "pat@example.org")
	var ids []int64
	for i := range 3 {
		m := fullMessage(0, pat.ID)
		insertMessage(t, b, m)
		ids = append(ids, m.ID)
		other := fullMessage(0, pat.ID)
		other.Intervention = "other_" + string(rune('a'+i))
		insertMessage(t, b, other)
	}
	got, err := b.Mail.ListMailMessages(ctx, "care_plan", 0, 10)
	must(t, err, "list")
	var gotIDs []int64
	for _, m := range got {
		gotIDs = append(gotIDs, m.ID)
	}
	if !slices.Equal(gotIDs, ids) || got[0].Body != "Line 1\nLine 2" {
		t.Fatalf("listed %v, want %v", gotIDs, ids)
	}
	got, err = b.Mail.ListMailMessages(ctx, "care_plan", ids[0], 1)
	must(t, err, "list")
	if len(got) != 1 || got[0].ID != ids[1] {
		t.Fatalf("page after %d: %+v", ids[0], got)
	}
	if got, err := b.Mail.ListMailMessages(ctx, "nothing_sent", 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("an intervention without messages: %v, %v", got, err)
	}
}
