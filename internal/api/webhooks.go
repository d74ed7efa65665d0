package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/store"
	"ward/internal/webhook"
)

// The webhook subscriptions' management API (issue 15). Who may: an
// administrator for any client, or a client acting as itself (a client
// credentials token) for its own; the rule lives in webhook.Service.

// webhookJSON is a subscription as the API shows it: never its secret.
type webhookJSON struct {
	ID             string    `json:"id" example:"wh_k5xq3vtbd2n6cm4a7zrfhyoup4"`
	ClientID       string    `json:"client_id" doc:"The system client the subscription delivers for; the payloads are bounded by its scopes."`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description"`
	Status         string    `json:"status" enum:"enabled,disabled"`
	DisabledReason string    `json:"disabled_reason,omitempty" doc:"Why it is disabled: a run of failed deliveries, or by whom."`
	FailureRun     int       `json:"failure_run" doc:"Consecutive failed delivery attempts."`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Version        int64     `json:"version"`
}

func toWebhookJSON(w *webhook.Subscription) webhookJSON {
	evs := make([]string, len(w.Events))
	for i, e := range w.Events {
		evs[i] = string(e)
	}
	return webhookJSON{ID: w.ID, ClientID: w.ClientID, URL: w.URL, Events: evs, Description: w.Description,
		Status: string(w.Status), DisabledReason: w.DisabledReason, FailureRun: w.FailureRun,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Version: w.Version}
}

// createdWebhookJSON is the answer to a create: the subscription and its
// signing secret, shown this once. The fields are spelled out: huma
// documents no field of an embedded unexported struct.
type createdWebhookJSON struct {
	ID          string    `json:"id"`
	Secret      string    `json:"secret" doc:"The signing secret (whsec_…), shown only in this answer; store it now."`
	ClientID    string    `json:"client_id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description"`
	Status      string    `json:"status" enum:"enabled,disabled"`
	CreatedAt   time.Time `json:"created_at"`
	Version     int64     `json:"version"`
}

func toCreatedWebhookJSON(w *webhook.Subscription, secret string) createdWebhookJSON {
	j := toWebhookJSON(w)
	return createdWebhookJSON{ID: j.ID, Secret: secret, ClientID: j.ClientID, URL: j.URL, Events: j.Events,
		Description: j.Description, Status: j.Status, CreatedAt: j.CreatedAt, Version: j.Version}
}

// deliveryJSON is one entry of the delivery log.
type deliveryJSON struct {
	ID              int64           `json:"id"`
	EventID         int64           `json:"event_id" doc:"The audit event delivered."`
	WebhookIDHeader string          `json:"webhook_id_header" doc:"The webhook-id header it is sent with (the same for every attempt and replay)."`
	EventType       string          `json:"event_type"`
	Subject         string          `json:"subject"`
	Status          string          `json:"status" enum:"pending,retrying,succeeded"`
	Attempts        int             `json:"attempts"`
	ResponseStatus  int             `json:"response_status,omitempty" doc:"The receiver's last HTTP status."`
	LastError       string          `json:"last_error,omitempty"`
	LatencyMS       float64         `json:"latency_ms" doc:"How long the last attempt took."`
	CreatedAt       time.Time       `json:"created_at"`
	LastAttemptAt   *time.Time      `json:"last_attempt_at,omitempty"`
	NextAttemptAt   *time.Time      `json:"next_attempt_at,omitempty"`
	DeliveredAt     *time.Time      `json:"delivered_at,omitempty"`
	Payload         json.RawMessage `json:"payload,omitempty" doc:"The body as sent (in the answer about one delivery)."`
}

func toDeliveryJSON(d *webhook.Delivery, payload bool) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventID: d.EventID, WebhookIDHeader: webhook.MessageID(d.EventID),
		EventType: string(d.EventType), Subject: d.Subject, Status: string(d.Status), Attempts: d.Attempts,
		ResponseStatus: d.ResponseStatus, LastError: d.LastError,
		LatencyMS: float64(d.Latency.Microseconds()) / 1000, CreatedAt: d.CreatedAt,
		LastAttemptAt: timePtr(d.LastAttemptAt), NextAttemptAt: timePtr(d.NextAttemptAt), DeliveredAt: timePtr(d.DeliveredAt)}
	if payload {
		if json.Valid(d.Payload) {
			out.Payload = json.RawMessage(d.Payload)
		} else {
			// Never expected (the dispatcher writes JSON), but a stored
			// body that is not must not break the answer.
			b, _ := json.Marshal(string(d.Payload))
			out.Payload = b
		}
	}
	return out
}

type createWebhookBody struct {
	URL         string   `json:"url" doc:"The receiver: https (plain http and private addresses only with WARD_OUTBOUND_ALLOW_PRIVATE=1)." example:"https://portal.example.org/ward-events"`
	Events      []string `json:"events" maxItems:"100" doc:"Event types of the registry (docs/webhooks.md)." example:"[\"user.created\",\"user.updated\"]"`
	Description string   `json:"description,omitempty"`
	ClientID    string   `json:"client_id,omitempty" doc:"The client it delivers for: required for an administrator; a client creating its own leaves it out."`
}

type updateWebhookBody struct {
	URL         *string   `json:"url,omitempty"`
	Events      *[]string `json:"events,omitempty" maxItems:"100"`
	Description *string   `json:"description,omitempty"`
	Status      *string   `json:"status,omitempty" enum:"enabled,disabled" doc:"enabled resets the failure run; disabled stops deliveries (pending ones wait)."`
}

type webhookPath struct {
	ID string `path:"id" maxLength:"64" doc:"The subscription's id."`
}

type webhookOutput struct {
	Body webhookJSON
}

type listWebhooksInput struct {
	ClientID string `query:"client_id" maxLength:"128" doc:"Only this client's subscriptions (administrators)."`
	Cursor   string `query:"cursor" maxLength:"512" doc:"The next value of the previous page."`
	Limit    int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
}

type webhookPage struct {
	Webhooks []webhookJSON `json:"webhooks"`
	Next     string        `json:"next,omitempty" doc:"Cursor of the next page; absent on the last page."`
}

type rotateBody struct {
	OverlapSeconds *int64 `json:"overlap_seconds,omitempty" minimum:"0" maximum:"604800" doc:"How long the old secret keeps signing beside the new one (default 86400; 0 ends it now)."`
}

type rotatedJSON struct {
	Secret            string     `json:"secret" doc:"The new signing secret, shown only in this answer."`
	PreviousExpiresAt *time.Time `json:"previous_expires_at,omitempty" doc:"Until when the old secret also signs; absent with no overlap."`
}

type listDeliveriesInput struct {
	ID     string `path:"id" maxLength:"64"`
	Status string `query:"status" enum:"pending,retrying,succeeded" doc:"Only deliveries in this status."`
	Cursor string `query:"cursor" maxLength:"512" doc:"The next value of the previous page."`
	Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
}

type deliveryPage struct {
	Deliveries []deliveryJSON `json:"deliveries"`
	Next       string         `json:"next,omitempty" doc:"Cursor of the next page; absent on the last page."`
}

type deliveryPath struct {
	ID         string `path:"id" maxLength:"64"`
	DeliveryID string `path:"delivery_id" maxLength:"20" doc:"The delivery's id (a positive integer)."`
}

func (s *server) registerWebhooks(api huma.API) {
	tags := []string{"webhooks"}
	who := "An administrator (any client's), or a system client acting as itself with a client credentials token (its own). "

	register(api, s, huma.Operation{
		OperationID: "create-webhook", Method: http.MethodPost, Path: "/api/webhook", Tags: tags,
		Summary: "Subscribe a URL to event types", DefaultStatus: http.StatusCreated,
		Description: who + "Answers the subscription with its signing secret, shown only here (docs/webhooks.md).",
	}, func(ctx context.Context, in *struct{ Body createWebhookBody }) (*struct {
		Location string `header:"Location"`
		Body     createdWebhookJSON
	}, error) {
		b := in.Body
		w, secret, err := s.hooks.Create(ctx, webhook.NewSubscription{ClientID: b.ClientID, URL: b.URL,
			Events: b.Events, Description: b.Description})
		if err != nil {
			return nil, err
		}
		return &struct {
			Location string `header:"Location"`
			Body     createdWebhookJSON
		}{Location: s.base + "/api/webhook/" + url.PathEscape(w.ID),
			Body: toCreatedWebhookJSON(w, secret)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "list-webhooks", Method: http.MethodGet, Path: "/api/webhook", Tags: tags,
		Summary: "List webhook subscriptions", Description: who + "In id order; no secret is shown.",
	}, func(ctx context.Context, in *listWebhooksInput) (*struct{ Body webhookPage }, error) {
		ws, next, err := s.hooks.List(ctx, in.ClientID, store.Page{Limit: in.Limit, After: in.Cursor})
		if err != nil {
			return nil, err
		}
		out := &struct{ Body webhookPage }{Body: webhookPage{Webhooks: make([]webhookJSON, len(ws)), Next: next}}
		for i, w := range ws {
			out.Body.Webhooks[i] = toWebhookJSON(w)
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-webhook", Method: http.MethodGet, Path: "/api/webhook/{id}", Tags: tags,
		Summary: "One webhook subscription", Errors: []int{http.StatusNotFound}, Description: who,
	}, func(ctx context.Context, in *webhookPath) (*webhookOutput, error) {
		w, err := s.hooks.Get(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &webhookOutput{Body: toWebhookJSON(w)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "update-webhook", Method: http.MethodPatch, Path: "/api/webhook/{id}", Tags: tags,
		Summary: "Change a webhook subscription", Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: who + "Only the fields given change. status enabled re-enables a subscription " +
			"(after a run of failures, say) and resets its failure run; disabled stops its deliveries until it is enabled.",
	}, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body updateWebhookBody
	}) (*webhookOutput, error) {
		ch := webhook.Changes{URL: in.Body.URL, Events: in.Body.Events, Description: in.Body.Description}
		if in.Body.Status != nil {
			st := webhook.Status(*in.Body.Status)
			ch.Status = &st
		}
		w, err := s.hooks.Update(ctx, in.ID, ch)
		if err != nil {
			return nil, err
		}
		return &webhookOutput{Body: toWebhookJSON(w)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/api/webhook/{id}", Tags: tags,
		Summary: "Delete a webhook subscription", DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusNotFound}, Description: who + "Its delivery log goes with it.",
	}, func(ctx context.Context, in *webhookPath) (*emptyOutput, error) {
		return &emptyOutput{}, s.hooks.Delete(ctx, in.ID)
	})

	register(api, s, huma.Operation{
		OperationID: "rotate-webhook-secret", Method: http.MethodPost, Path: "/api/webhook/{id}/rotate-secret", Tags: tags,
		Summary: "Rotate a webhook's signing secret", Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: who + "Answers the new secret, shown only here. During the overlap every delivery carries " +
			"two signatures, one per secret, so a receiver can switch without missing one.",
	}, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body *rotateBody
	}) (*struct{ Body rotatedJSON }, error) {
		var overlap *time.Duration
		if in.Body != nil && in.Body.OverlapSeconds != nil {
			d := time.Duration(*in.Body.OverlapSeconds) * time.Second
			overlap = &d
		}
		w, secret, err := s.hooks.RotateSecret(ctx, in.ID, overlap)
		if err != nil {
			return nil, err
		}
		var exp *time.Time
		if len(w.Secrets.Previous) > 0 {
			exp = timePtr(w.Secrets.PreviousExpires)
		}
		return &struct{ Body rotatedJSON }{Body: rotatedJSON{Secret: secret, PreviousExpiresAt: exp}}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/api/webhook/{id}/deliveries", Tags: tags,
		Summary: "A webhook's delivery log", Errors: []int{http.StatusNotFound},
		Description: who + "Newest first, with status, attempts, the receiver's last answer and latency.",
	}, func(ctx context.Context, in *listDeliveriesInput) (*struct{ Body deliveryPage }, error) {
		ds, next, err := s.hooks.Deliveries(ctx, in.ID, webhook.DeliveryStatus(in.Status),
			store.Page{Limit: in.Limit, After: in.Cursor})
		if err != nil {
			return nil, err
		}
		out := &struct{ Body deliveryPage }{Body: deliveryPage{Deliveries: make([]deliveryJSON, len(ds)), Next: next}}
		for i, d := range ds {
			out.Body.Deliveries[i] = toDeliveryJSON(d, false)
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-webhook-delivery", Method: http.MethodGet, Path: "/api/webhook/{id}/deliveries/{delivery_id}",
		Tags: tags, Summary: "One delivery, with its payload", Errors: []int{http.StatusNotFound}, Description: who,
	}, func(ctx context.Context, in *deliveryPath) (*struct{ Body deliveryJSON }, error) {
		id, err := parseID("delivery_id", in.DeliveryID)
		if err != nil {
			return nil, err
		}
		d, err := s.hooks.Delivery(ctx, in.ID, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body deliveryJSON }{Body: toDeliveryJSON(d, true)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "replay-webhook-delivery", Method: http.MethodPost,
		Path: "/api/webhook/{id}/deliveries/{delivery_id}/replay", Tags: tags,
		Summary: "Send a delivery again", DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound},
		Description: who + "Queues a new pending delivery of the same event (the same webhook-id header, so a " +
			"receiver that has it can drop it) and answers it.",
	}, func(ctx context.Context, in *deliveryPath) (*struct{ Body deliveryJSON }, error) {
		id, err := parseID("delivery_id", in.DeliveryID)
		if err != nil {
			return nil, err
		}
		d, err := s.hooks.Replay(ctx, in.ID, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body deliveryJSON }{Body: toDeliveryJSON(d, false)}, nil
	})
}
