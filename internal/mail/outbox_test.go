package mail_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/apperr"
	wmail "ward/internal/mail"
)

// memStore is an in-memory outbox store.
type memStore struct {
	mu   sync.Mutex
	rows map[int64]wmail.Outgoing
	next int64
}

func (s *memStore) InsertMailMessage(_ context.Context, m *wmail.Outgoing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	m.ID = s.next
	if s.rows == nil {
		s.rows = map[int64]wmail.Outgoing{}
	}
	s.rows[m.ID] = *m
	return nil
}

func (s *memStore) GetMailMessage(_ context.Context, id int64) (*wmail.Outgoing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.rows[id]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no message %d", id)
	}
	return &m, nil
}

func (s *memStore) ListMailMessages(context.Context, string, int64, int) ([]*wmail.Outgoing, error) {
	return nil, errors.New("not used by the outbox")
}

func (s *memStore) SetMailDelivery(_ context.Context, id int64, st wmail.Status, attempts int, lastErr string, sentAt *time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.rows[id]
	m.Status, m.Attempts, m.LastError, m.SentAt = st, attempts, lastErr, sentAt
	s.rows[id] = m
	return nil
}

// fakeTransport records what it is asked to send and fails with err.
type fakeTransport struct {
	sent []wmail.Message
	err  error
}

func (f *fakeTransport) Send(_ context.Context, m wmail.Message) error {
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, m)
	return nil
}

type fakeJobs struct {
	args []river.JobArgs
	opts []*river.InsertOpts
}

func (f *fakeJobs) InsertTx(_ context.Context, a river.JobArgs, o *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	f.args, f.opts = append(f.args, a), append(f.opts, o)
	return &rivertype.JobInsertResult{}, nil
}

const secretBody = "Your HbA1c result is 9.1%"
const secretSubject = "Lab result"

func outgoing() []*wmail.Outgoing {
	return []*wmail.Outgoing{
		{Intervention: "care_plan", SenderID: 1, RecipientID: 2, RecipientAddress: "a@example.org", Subject: secretSubject, Body: secretBody},
		{Intervention: "care_plan", SenderID: 1, RecipientID: 3, RecipientAddress: "b@example.org", Subject: secretSubject, Body: secretBody},
	}
}

func noPHI(t *testing.T, log *bytes.Buffer) {
	t.Helper()
	for _, s := range []string{secretBody, secretSubject, "a@example.org", "b@example.org"} {
		if strings.Contains(log.String(), s) {
			t.Errorf("the log holds %q:\n%s", s, log)
		}
	}
}

// TestOutboxWithoutTransport: without SMTP every message is stored as
// not_sent, no job is queued, and a log line says so without the message.
func TestOutboxWithoutTransport(t *testing.T) {
	var log bytes.Buffer
	st := &memStore{}
	o, err := wmail.NewOutbox(st, nil, wmail.OutboxConfig{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	jobs := &fakeJobs{}
	o.UseJobs(jobs)
	msgs := outgoing()
	if err := o.Queue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.ID == 0 || m.Status != wmail.StatusNotSent || st.rows[m.ID].Status != wmail.StatusNotSent {
			t.Errorf("message %+v", m)
		}
	}
	if len(jobs.args) != 0 {
		t.Errorf("%d jobs queued without a transport", len(jobs.args))
	}
	if !strings.Contains(log.String(), "not sent") {
		t.Errorf("no log line says the messages were not sent:\n%s", log.String())
	}
	noPHI(t, &log)
}

// TestOutboxDelivery: with a transport each message is queued with a
// bounded delivery job; delivering sends what was stored, once.
func TestOutboxDelivery(t *testing.T) {
	var log bytes.Buffer
	st, tr, jobs := &memStore{}, &fakeTransport{}, &fakeJobs{}
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	o, err := wmail.NewOutbox(st, tr, wmail.OutboxConfig{From: "ward@clinic.example", Now: func() time.Time { return now },
		Logger: slog.New(slog.NewJSONHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	msgs := outgoing()
	if err := o.Queue(context.Background(), msgs); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("queue before the runner is set: %v", err)
	}
	o.UseJobs(jobs)
	msgs = outgoing()
	if err := o.Queue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if len(jobs.args) != 2 || jobs.args[0].Kind() != wmail.KindDeliver || jobs.opts[0].MaxAttempts != wmail.DefaultMaxAttempts {
		t.Fatalf("jobs %v %v", jobs.args, jobs.opts)
	}
	id := msgs[0].ID
	if err := o.Deliver(context.Background(), id, 1, 5); err != nil {
		t.Fatal(err)
	}
	if err := o.Deliver(context.Background(), id, 2, 5); err != nil {
		t.Fatal(err)
	}
	if len(tr.sent) != 1 {
		t.Fatalf("sent %d times", len(tr.sent))
	}
	got := tr.sent[0]
	if got.From != "ward@clinic.example" || got.To != "a@example.org" || got.Subject != secretSubject || got.Body != secretBody ||
		!strings.HasSuffix(got.MessageID, "@clinic.example") || !got.Date.Equal(now) {
		t.Errorf("sent %+v", got)
	}
	row := st.rows[id]
	if row.Status != wmail.StatusSent || row.Attempts != 1 || row.SentAt == nil || !row.SentAt.Equal(now) {
		t.Errorf("row %+v", row)
	}
	noPHI(t, &log)
}

// TestOutboxRetries: a transient failure is retried until the last
// attempt, which marks the message failed; a permanent one fails at once.
func TestOutboxRetries(t *testing.T) {
	var log bytes.Buffer
	st, tr, jobs := &memStore{}, &fakeTransport{err: errors.New("connection refused")}, &fakeJobs{}
	o, err := wmail.NewOutbox(st, tr, wmail.OutboxConfig{From: "ward@clinic.example", Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	o.UseJobs(jobs)
	msgs := outgoing()
	if err := o.Queue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	id := msgs[0].ID
	if err := o.Deliver(context.Background(), id, 1, 3); err == nil {
		t.Fatal("a failed attempt reported success")
	}
	if r := st.rows[id]; r.Status != wmail.StatusQueued || r.Attempts != 1 || r.LastError == "" {
		t.Errorf("after attempt 1: %+v", r)
	}
	if err := o.Deliver(context.Background(), id, 3, 3); err != nil {
		t.Fatalf("the last attempt should end the job: %v", err)
	}
	if r := st.rows[id]; r.Status != wmail.StatusFailed || r.Attempts != 2 {
		t.Errorf("after the last attempt: %+v", r)
	}

	// A 5xx reply is not retried.
	perm := &textproto.Error{Code: 550, Msg: "no such user"}
	tr.err = wmail.PermanentError(perm)
	id = msgs[1].ID
	if err := o.Deliver(context.Background(), id, 1, 3); err != nil {
		t.Fatalf("a permanent failure should end the job: %v", err)
	}
	if r := st.rows[id]; r.Status != wmail.StatusFailed {
		t.Errorf("after a permanent failure: %+v", r)
	}
	noPHI(t, &log)
}
