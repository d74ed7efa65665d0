package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/mail"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
)

// sentMail is a Transport that keeps what it is given.
type sentMail struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (s *sentMail) Send(_ context.Context, m mail.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return nil
}

// jobLog is a job inserter that records the jobs and inserts nothing: the
// tests deliver by calling the outbox themselves.
type jobLog struct{ kinds []string }

func (j *jobLog) InsertTx(_ context.Context, a river.JobArgs, _ *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	j.kinds = append(j.kinds, a.Kind())
	return &rivertype.JobInsertResult{}, nil
}

// commEnv is the intervention env with mail wired: an outbox on a fake
// transport (or none), and the cast of a communication.
type commEnv struct {
	*ivEnv
	outbox *mail.Outbox
	sent   *sentMail
	jobs   *jobLog
	// staffA works at the top clinic, above the patients' clinic;
	// staffB at another clinic. p1 and p2 consented at the child clinic,
	// gone was deleted, noMail has no address, stranger consented at the
	// other clinic. svcA is care_plan's service account, svcB another
	// developer's.
	staffA, staffB, p1, p2, gone, noMail, stranger, svcA, svcB int64
}

func newCommEnv(t *testing.T, url string, smtp bool) *commEnv {
	t.Helper()
	c := &commEnv{sent: &sentMail{}, jobs: &jobLog{}}
	e := newInterventionEnv(t, url, func(d *intervention.Deps) {
		db := d.Store.(*sqlstore.DB)
		var tr mail.Transport
		if smtp {
			tr = c.sent
		}
		ob, err := mail.NewOutbox(db, tr, mail.OutboxConfig{From: "ward@clinic.example",
			Now: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ob.UseJobs(c.jobs)
		c.outbox = ob
		d.Mail = intervention.Mail{Recipients: db, Outbox: ob, Messages: db}
	})
	c.ivEnv = e
	sys := actor.System(context.Background())
	top := e.createOrg("Top Clinic", 0)
	child := e.createOrg("Child Clinic", top)
	other := e.createOrg("Other Clinic", 0)
	c.staffA = e.createUser("staff-a@example.org", "Sam", "Staff", []string{"staff"}, []int64{top})
	c.staffB = e.createUser("staff-b@example.org", "Bea", "Staff", []string{"staff"}, []int64{other})
	c.p1 = e.createUser("p1@example.org", "Pat", "One", []string{"patient"}, []int64{child})
	c.p2 = e.createUser("p2@example.org", "Pat", "Two", []string{"patient"}, []int64{child})
	c.gone = e.createUser("gone@example.org", "Gus", "Gone", []string{"patient"}, []int64{child})
	c.stranger = e.createUser("stranger@example.org", "Stan", "Stranger", []string{"patient"}, []int64{other})
	u, err := e.dir.CreateUser(sys, directory.NewUser{User: directory.User{GivenName: "No", FamilyName: "Mail"},
		Roles: []string{directory.RolePatient}, OrgIDs: []int64{child}})
	if err != nil {
		t.Fatal(err)
	}
	c.noMail = u.ID
	for _, p := range []struct{ id, org int64 }{{c.p1, child}, {c.p2, child}, {c.gone, child}, {c.noMail, child}, {c.stranger, other}} {
		e.must(e.do("POST", fmt.Sprintf("/api/user/%d/consent", p.id), e.adminID, map[string]any{
			"organization_id": p.org, "agreement_url": "https://example.org/agreement"}), http.StatusCreated, nil)
	}
	if _, err := e.dir.CreateGroup(sys, &directory.Group{Name: "cohort"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{c.p1, c.p2, c.gone, c.noMail} {
		if _, err := e.dir.SetUserGroups(sys, id, []string{"cohort"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.dir.DeleteUser(sys, c.gone); err != nil {
		t.Fatal(err)
	}
	e.interventionWithClient("care_plan", e.dev)
	dev2, err := e.dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: "dev2@example.org"},
		Roles: []string{directory.RoleApplicationDeveloper}})
	if err != nil {
		t.Fatal(err)
	}
	c.svcA = e.serviceAccount("svc-a@example.org", e.dev)
	c.svcB = e.serviceAccount("svc-b@example.org", dev2.ID)
	return c
}

type commResult struct {
	Messages []struct {
		UserID    int64  `json:"user_id"`
		MessageID int64  `json:"message_id"`
		Status    string `json:"status"`
	} `json:"messages"`
	Skipped []struct {
		UserID int64  `json:"user_id"`
		Reason string `json:"reason"`
	} `json:"skipped"`
}

const commPath = "/api/intervention/care_plan/communicate"

func commBody(to any, subject, message string) map[string]any {
	b := map[string]any{"protocol": "email", "subject": subject, "message": message}
	switch v := to.(type) {
	case string:
		b["group"] = v
	default:
		b["users"] = v
	}
	return b
}

// stored counts the outbox's rows.
func (c *commEnv) stored() int {
	c.t.Helper()
	var n int
	if err := c.st.Writer().QueryRow(`SELECT COUNT(*) FROM mail_messages`).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

func (c *commEnv) sentEvents() []audit.Event {
	c.t.Helper()
	evs, _, err := c.aud.List(actor.System(context.Background()), audit.Filter{Type: audit.InterventionMessageSent}, store.Page{Limit: 100})
	if err != nil {
		c.t.Fatal(err)
	}
	return evs
}

// TestCommunicateAPI: an administrator writes to a group; deleted and
// address-less members are skipped and reported; each message is stored,
// queued, audited without its body, and delivered as stored.
func TestCommunicateAPI(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		c := newCommEnv(t, url, true)
		const body = "Your next visit is on Monday.\nBring your diary."
		var res commResult
		c.must(c.do("POST", commPath, c.adminID, commBody("cohort", "Visit reminder – Monday", body)), http.StatusAccepted, &res)
		if len(res.Messages) != 2 || res.Messages[0].UserID != c.p1 || res.Messages[1].UserID != c.p2 ||
			res.Messages[0].Status != "queued" || res.Messages[0].MessageID == 0 {
			t.Fatalf("messages %+v", res.Messages)
		}
		skipped := map[int64]string{}
		for _, s := range res.Skipped {
			skipped[s.UserID] = s.Reason
		}
		if len(skipped) != 2 || skipped[c.gone] != intervention.SkipUnknown || skipped[c.noMail] != intervention.SkipNoEmail {
			t.Fatalf("skipped %+v", res.Skipped)
		}
		if len(c.jobs.kinds) != 2 || c.jobs.kinds[0] != mail.KindDeliver {
			t.Fatalf("jobs %v", c.jobs.kinds)
		}
		evs := c.sentEvents()
		if len(evs) != 1 || evs[0].Subject != "Intervention/care_plan" || evs[0].UserID != c.adminID {
			t.Fatalf("events %+v", evs)
		}
		var payload struct {
			Protocol   string  `json:"protocol"`
			Recipients int     `json:"recipients"`
			MessageIDs []int64 `json:"message_ids"`
		}
		if err := json.Unmarshal([]byte(evs[0].Payload), &payload); err != nil {
			t.Fatal(err)
		}
		if payload.Protocol != "email" || payload.Recipients != 2 ||
			!slices.Equal(payload.MessageIDs, []int64{res.Messages[0].MessageID, res.Messages[1].MessageID}) {
			t.Fatalf("payload %s", evs[0].Payload)
		}
		if strings.Contains(evs[0].Payload+evs[0].Comment, "Monday") {
			t.Fatalf("the audit event holds the message: %+v", evs[0])
		}
		// Delivery sends exactly what was stored.
		for _, m := range res.Messages {
			if err := c.outbox.Deliver(actor.System(context.Background()), m.MessageID, 1, 5); err != nil {
				t.Fatal(err)
			}
		}
		if len(c.sent.msgs) != 2 {
			t.Fatalf("sent %d", len(c.sent.msgs))
		}
		got := c.sent.msgs[0]
		if got.To != "p1@example.org" || got.From != "ward@clinic.example" || got.Subject != "Visit reminder – Monday" || got.Body != body {
			t.Fatalf("sent %+v", got)
		}
		if _, err := got.Bytes(); err != nil {
			t.Fatal(err)
		}
		var sent int
		if err := c.st.Writer().QueryRow(`SELECT COUNT(*) FROM mail_messages WHERE status = 'sent'`).Scan(&sent); err != nil || sent != 2 {
			t.Fatalf("%d sent, %v", sent, err)
		}
		// Purging a recipient removes their messages (address and body).
		sys := actor.System(context.Background())
		if err := c.dir.DeleteUser(sys, c.p1); err != nil {
			t.Fatal(err)
		}
		if err := c.dir.PurgeUser(sys, c.p1); err != nil {
			t.Fatal(err)
		}
		if n := c.stored(); n != 1 {
			t.Fatalf("%d messages left after purging a recipient, want 1", n)
		}
	})
}

// TestCommunicateWho: the intervention's service account and staff over
// every recipient may send; staff of another clinic, staff over only some
// recipients, another intervention's account, a developer, a patient and
// an anonymous caller may not, and nothing is stored for them.
func TestCommunicateWho(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		c := newCommEnv(t, url, false)
		to := []int64{c.p1, c.p2}
		var res commResult
		c.must(c.do("POST", commPath, c.svcA, commBody(to, "Hello", "From the app.")), http.StatusAccepted, &res)
		if len(res.Messages) != 2 || res.Messages[0].Status != "not_sent" {
			t.Fatalf("service account: %+v", res)
		}
		c.must(c.do("POST", commPath, c.staffA, commBody(to, "Hello", "From the clinic.")), http.StatusAccepted, &res)
		c.must(c.do("POST", commPath, c.staffA, commBody("cohort", "Hello", "To the cohort.")), http.StatusAccepted, &res)
		if n := c.stored(); n != 6 {
			t.Fatalf("%d stored", n)
		}
		if len(c.jobs.kinds) != 0 {
			t.Fatalf("jobs queued without a transport: %v", c.jobs.kinds)
		}
		for _, who := range []int64{c.staffB, c.svcB, c.dev, c.patient, c.p1} {
			c.problem(c.do("POST", commPath, who, commBody(to, "Hello", "x")), http.StatusForbidden)
		}
		c.problem(c.do("POST", commPath, c.staffA, commBody([]int64{c.p1, c.stranger}, "Hello", "x")), http.StatusForbidden)
		c.problem(c.do("POST", commPath, c.staffB, commBody("cohort", "Hello", "x")), http.StatusForbidden)
		c.problem(c.do("POST", commPath, 0, commBody(to, "Hello", "x")), http.StatusUnauthorized)
		if n := c.stored(); n != 6 {
			t.Fatalf("a refused send stored messages: %d", n)
		}
		if n := len(c.sentEvents()); n != 3 {
			t.Fatalf("%d message_sent events, want 3", n)
		}
		c.problem(c.do("POST", "/api/intervention/no_such/communicate", c.adminID, commBody(to, "Hello", "x")), http.StatusNotFound)

		// The list: administrators and the intervention's account, a
		// page at a time, without the text.
		type page struct {
			Messages []struct {
				ID     int64  `json:"id"`
				UserID int64  `json:"user_id"`
				Status string `json:"status"`
			} `json:"messages"`
			Next string `json:"next"`
		}
		var first, second page
		listed := c.do("GET", commPath+"?limit=4", c.adminID, nil)
		c.must(listed, http.StatusOK, &first)
		if len(first.Messages) != 4 || first.Next == "" || first.Messages[0].Status != "not_sent" || first.Messages[0].UserID != c.p1 {
			t.Fatalf("first page %+v", first)
		}
		if strings.Contains(string(listed.body), "From the") {
			t.Fatalf("the list shows message text: %s", listed.body)
		}
		c.must(c.do("GET", commPath+"?limit=4&cursor="+first.Next, c.svcA, nil), http.StatusOK, &second)
		if len(second.Messages) != 2 || second.Next != "" || second.Messages[0].ID <= first.Messages[3].ID {
			t.Fatalf("second page %+v", second)
		}
		for _, who := range []int64{c.staffA, c.svcB, c.dev, c.patient} {
			c.problem(c.do("GET", commPath, who, nil), http.StatusForbidden)
		}
		c.problem(c.do("GET", commPath, 0, nil), http.StatusUnauthorized)
		c.problem(c.do("GET", commPath+"?cursor=%21%21", c.adminID, nil), http.StatusBadRequest)
		c.problem(c.do("GET", "/api/intervention/no_such/communicate", c.adminID, nil), http.StatusNotFound)
	})
}

// TestCommunicateBadInput: bad input is 4xx on both databases and stores
// nothing. (Invalid UTF-8 in a JSON body never reaches the API: the
// server's edge refuses it, see internal/server's TestBadTextIsRefused,
// and encoding/json would repair it here; the domain refuses it too, see
// intervention's TestCommunicateRequestValidation.)
func TestCommunicateBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		c := newCommEnv(t, url, true)
		to := []int64{c.p1}
		ok := func(edit func(map[string]any)) map[string]any {
			b := commBody(to, "Hello", "A message.")
			edit(b)
			return b
		}
		cases := []struct {
			name string
			body any
		}{
			{"not JSON", "{"},
			{"sms", ok(func(b map[string]any) { b["protocol"] = "sms" })},
			{"no protocol", ok(func(b map[string]any) { delete(b, "protocol") })},
			{"subject of 79 characters", ok(func(b map[string]any) { b["subject"] = strings.Repeat("s", 79) })},
			{"empty subject", ok(func(b map[string]any) { b["subject"] = "" })},
			{"CRLF in subject", ok(func(b map[string]any) { b["subject"] = "Hi\r\nBcc: all@example.org" })},
			{"LF in subject", ok(func(b map[string]any) { b["subject"] = "Hi\nthere" })},
			{"NUL in subject", `{"protocol":"email","users":[` + fmt.Sprint(c.p1) + `],"subject":"a\u0000b","message":"x"}`},
			{"NUL in message", `{"protocol":"email","users":[` + fmt.Sprint(c.p1) + `],"subject":"a","message":"x\u0000"}`},
			{"empty message", ok(func(b map[string]any) { b["message"] = "  " })},
			{"huge message", ok(func(b map[string]any) { b["message"] = strings.Repeat("m", intervention.MaxMessageLen+1) })},
			{"oversized body", ok(func(b map[string]any) { b["message"] = strings.Repeat("m", 2<<20) })},
			{"unknown group", commBody("no such group", "Hello", "x")},
			{"NUL in group", commBody("co\x00hort", "Hello", "x")},
			{"empty users", commBody([]int64{}, "Hello", "x")},
			{"no recipients", map[string]any{"protocol": "email", "subject": "Hello", "message": "x"}},
			{"group and users", ok(func(b map[string]any) { b["group"] = "cohort" })},
			{"zero user id", commBody([]int64{0}, "Hello", "x")},
			{"too many users", commBody(make([]int64, intervention.MaxRecipients+1), "Hello", "x")},
			{"nobody reachable", commBody([]int64{c.gone, c.noMail}, "Hello", "x")},
		}
		for _, tc := range cases {
			res := c.do("POST", commPath, c.adminID, tc.body)
			if res.status < 400 || res.status >= 500 {
				t.Errorf("%s: status %d, body %s", tc.name, res.status, res.body)
			}
		}
		c.problem(c.do("POST", "/api/intervention/Bad%20Name/communicate", c.adminID, commBody(to, "Hello", "x")), http.StatusBadRequest)
		if n := c.stored(); n != 0 {
			t.Fatalf("bad input stored %d messages", n)
		}
		if len(c.jobs.kinds) != 0 || len(c.sentEvents()) != 0 {
			t.Fatalf("bad input queued %v or audited", c.jobs.kinds)
		}
		// A subject of exactly 78 characters, non-ASCII, is fine.
		c.must(c.do("POST", commPath, c.adminID, commBody(to, strings.Repeat("é", 78), "x")), http.StatusAccepted, nil)
	})
}
