package webhook_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/testutil"
)

// benchEvents is how many events one benchmark iteration dispatches and
// delivers, spread over benchSubjects people.
const (
	benchEvents   = 2000
	benchSubjects = 200
)

// recordEvents appends n user.updated events over subjects people, in
// one transaction (the changes themselves are not what is measured).
func recordEvents(b *testing.B, e *env, n, subjects int) {
	b.Helper()
	entries := make([]audit.Entry, n)
	for i := range entries {
		id := int64(i%subjects + 1)
		entries[i] = audit.Entry{Actor: actor.From(e.ctx), Change: audit.Change{Type: audit.UserUpdated,
			Subject: audit.UserRef(id), SubjectID: id, Fields: map[string]any{"name": fmt.Sprintf("n%d", i)}}}
	}
	if err := e.svc.Audit.RecordEach(e.ctx, entries); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWebhookDelivery: events delivered per second to a loopback
// receiver, dispatch included: benchEvents events over benchSubjects
// people per iteration, one subscription, the receiver answering 204.
//
//	WARD_TEST_POSTGRES_URL=postgres://... go test -run '^$' -bench WebhookDelivery -benchtime 5x ./internal/webhook/
func BenchmarkWebhookDelivery(b *testing.B) {
	for _, backend := range testutil.Backends() {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, testutil.URLFor(b, backend), envOpts{allowPrivate: true, timeout: 10 * time.Second})
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			}))
			defer rcv.Close()
			e.client("crvs", "system/Patient.read", "")
			sub, _ := e.subscribe("wh-bench", "crvs", rcv.URL, audit.UserUpdated)
			b.ResetTimer()
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				recordEvents(b, e, benchEvents, benchSubjects)
				b.StartTimer()
				t0 := time.Now()
				e.dispatch()
				e.deliver(sub.ID)
				elapsed += time.Since(t0)
			}
			b.StopTimer()
			left := 0
			for _, r := range e.rows(sub.ID) {
				if r.status != "succeeded" {
					left++
				}
			}
			if left > 0 {
				b.Fatalf("%d deliveries not delivered", left)
			}
			b.ReportMetric(float64(b.N*benchEvents)/elapsed.Seconds(), "events/s")
		})
	}
}

// BenchmarkWebhookDispatch: the outbox's own cost per event. The outbox
// write on a change is the audit append that already happens in the
// change's transaction; what webhooks add is the dispatcher reading the
// event back and writing its delivery (one subscription), off the
// request path. Reported per event.
//
//	WARD_TEST_POSTGRES_URL=postgres://... go test -run '^$' -bench WebhookDispatch -benchtime 5x ./internal/webhook/
func BenchmarkWebhookDispatch(b *testing.B) {
	for _, backend := range testutil.Backends() {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, testutil.URLFor(b, backend), envOpts{allowPrivate: true})
			e.client("crvs", "system/Patient.read", "")
			e.subscribe("wh-bench", "crvs", "http://127.0.0.1:1/", audit.UserUpdated)
			b.ResetTimer()
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				recordEvents(b, e, benchEvents, benchSubjects)
				b.StartTimer()
				t0 := time.Now()
				e.dispatch()
				elapsed += time.Since(t0)
			}
			b.ReportMetric(float64(elapsed.Microseconds())/float64(b.N*benchEvents), "µs/event")
		})
	}
}
