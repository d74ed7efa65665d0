package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/store"
	"ward/internal/webhook"
)

// The webhooks pages (issue 17, item 7; the feature is issue 15): the
// subscriptions, one subscription with its delivery log, and the changes
// the management API offers. Who may is webhook.Service's rule (an
// administrator; a client acting as itself uses the API): every page and
// action asks the service, which refuses everyone else.

func init() {
	addNotices(map[string]string{
		"webhook-enabled":   "The webhook is enabled; its pending deliveries go out now.",
		"webhook-disabled":  "The webhook is disabled; its deliveries wait until it is enabled again.",
		"webhook-deleted":   "The webhook and its delivery log are deleted.",
		"delivery-replayed": "The delivery is queued again as a new pending delivery.",
	})
}

func (h *Handler) mountWebhooks(mux *http.ServeMux) {
	if h.d.Webhooks == nil {
		return
	}
	mux.Handle("GET /admin/webhooks", h.page(h.webhookList))
	mux.Handle("POST /admin/webhooks", h.form(h.webhookCreate))
	mux.Handle("GET /admin/webhooks/new", h.page(h.webhookNew))
	mux.Handle("GET /admin/webhooks/{id}", h.page(h.webhookDetail))
	mux.Handle("POST /admin/webhooks/{id}/status", h.form(h.webhookStatus))
	mux.Handle("POST /admin/webhooks/{id}/rotate", h.form(h.webhookRotate))
	mux.Handle("POST /admin/webhooks/{id}/delete", h.form(h.webhookDelete))
	mux.Handle("GET /admin/webhooks/{id}/deliveries/{delivery}", h.page(h.deliveryDetail))
	mux.Handle("POST /admin/webhooks/{id}/deliveries/{delivery}/replay", h.form(h.deliveryReplay))
}

// webhookListPage is the data of the subscriptions list.
type webhookListPage struct {
	Client   string
	Webhooks []*webhook.Subscription
	Pager    pager
}

// PageTitle implements titled.
func (webhookListPage) PageTitle() string { return "Webhooks" }

func (h *Handler) webhookList(w http.ResponseWriter, r *http.Request, rq *request) {
	client := strings.TrimSpace(r.URL.Query().Get("client"))
	for name, v := range map[string]string{"client": client, "after": r.URL.Query().Get("after")} {
		if err := checkText(name, v, 256); err != nil {
			h.problem(w, r, rq, err)
			return
		}
	}
	ws, next, err := h.d.Webhooks.List(r.Context(), client, listPage(r))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "webhooks", webhookListPage{Client: client, Webhooks: ws, Pager: newPager(r, next)})
}

// webhookForm is the create form, as typed.
type webhookForm struct {
	ClientID, URL, Description string
	Events                     map[string]bool
}

// webhookNewPage is the data of the create form.
type webhookNewPage struct {
	Form  webhookForm
	Types []audit.EventType
	Error string
}

// PageTitle implements titled.
func (webhookNewPage) PageTitle() string { return "New webhook" }

// webhookSecretPage shows a signing secret the once it is shown.
type webhookSecretPage struct {
	Webhook *webhook.Subscription
	Secret  string
	// Rotated is true after a rotation (false after a create).
	Rotated bool
	// PreviousExpires is when the rotated-out secret stops signing.
	PreviousExpires time.Time
}

// PageTitle implements titled.
func (p webhookSecretPage) PageTitle() string {
	if p.Rotated {
		return "New signing secret"
	}
	return "Webhook created"
}

func (h *Handler) webhookNew(w http.ResponseWriter, r *http.Request, rq *request) {
	// The form is for whoever may manage webhooks: the service says who by
	// answering a list (nothing is shown from it).
	if _, _, err := h.d.Webhooks.List(r.Context(), "", store.Page{Limit: 1}); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "webhook-new", webhookNewPage{Types: audit.EventTypes(),
		Form: webhookForm{ClientID: r.URL.Query().Get("client")}})
}

func (h *Handler) webhookCreate(w http.ResponseWriter, r *http.Request, rq *request) {
	f := webhookForm{ClientID: strings.TrimSpace(r.PostForm.Get("client_id")), URL: strings.TrimSpace(r.PostForm.Get("url")),
		Description: strings.TrimSpace(r.PostForm.Get("description")), Events: map[string]bool{}}
	events := r.PostForm["events"]
	for _, e := range events {
		f.Events[e] = true
	}
	sub, secret, err := h.d.Webhooks.Create(r.Context(), webhook.NewSubscription{ClientID: f.ClientID, URL: f.URL,
		Events: events, Description: f.Description})
	if apperr.Is(err, apperr.Invalid) {
		// The form again, with what was typed and what is wrong with it;
		// text that is not valid is not echoed back.
		if !validText(f.ClientID) || !validText(f.URL) || !validText(f.Description) {
			f = webhookForm{}
		}
		h.render(w, r, rq, http.StatusBadRequest, "webhook-new",
			webhookNewPage{Form: f, Types: audit.EventTypes(), Error: apperr.Message(err)})
		return
	}
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "webhook-secret", webhookSecretPage{Webhook: sub, Secret: secret})
}

// webhookDetailPage is the data of one subscription's page.
type webhookDetailPage struct {
	Webhook    *webhook.Subscription
	Status     string
	Statuses   []webhook.DeliveryStatus
	Deliveries []*webhook.Delivery
	Pager      pager
}

// PageTitle implements titled.
func (p webhookDetailPage) PageTitle() string { return "Webhook " + p.Webhook.ID }

func (h *Handler) webhookDetail(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	status := r.URL.Query().Get("status")
	if err := checkText("after", r.URL.Query().Get("after"), 256); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	if err := checkText("status", status, 32); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	sub, err := h.d.Webhooks.Get(r.Context(), id)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	ds, next, err := h.d.Webhooks.Deliveries(r.Context(), id, webhook.DeliveryStatus(status), listPage(r))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "webhook", webhookDetailPage{Webhook: sub, Status: status, Deliveries: ds,
		Statuses: []webhook.DeliveryStatus{webhook.DeliveryPending, webhook.DeliveryRetrying, webhook.DeliverySucceeded},
		Pager:    newPager(r, next)})
}

// webhookPath is the page of subscription id.
func webhookPath(id string) string { return "/admin/webhooks/" + id }

func (h *Handler) webhookStatus(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	// The service checks the value, after deciding who may.
	st := webhook.Status(r.PostForm.Get("status"))
	sub, err := h.d.Webhooks.Update(r.Context(), id, webhook.Changes{Status: &st})
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, webhookPath(sub.ID), "webhook-"+string(sub.Status))
}

func (h *Handler) webhookRotate(w http.ResponseWriter, r *http.Request, rq *request) {
	sub, secret, err := h.d.Webhooks.RotateSecret(r.Context(), r.PathValue("id"), nil)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	p := webhookSecretPage{Webhook: sub, Secret: secret, Rotated: true}
	if len(sub.Secrets.Previous) > 0 {
		p.PreviousExpires = sub.Secrets.PreviousExpires
	}
	h.render(w, r, rq, http.StatusOK, "webhook-secret", p)
}

func (h *Handler) webhookDelete(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	// Who may is the service's; the tick box only guards against a slip,
	// since the delivery log goes too and cannot come back.
	if _, err := h.d.Webhooks.Get(r.Context(), id); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		h.problem(w, r, rq, apperr.New(apperr.Invalid,
			"tick the box that confirms the delete: the subscription and its delivery log cannot be restored"))
		return
	}
	if err := h.d.Webhooks.Delete(r.Context(), id); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, "/admin/webhooks", "webhook-deleted")
}

// deliveryPage is the data of one delivery's page.
type deliveryPage struct {
	Webhook  *webhook.Subscription
	Delivery *webhook.Delivery
	// MessageID is the webhook-id header it is sent with.
	MessageID string
}

// PageTitle implements titled.
func (p deliveryPage) PageTitle() string {
	return "Delivery " + strconv.FormatInt(p.Delivery.ID, 10)
}

// deliveryID reads the delivery number in the path: 0 when it is not one,
// which the service answers NotFound after deciding who may.
func deliveryID(r *http.Request) int64 {
	id, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

func (h *Handler) deliveryDetail(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	sub, err := h.d.Webhooks.Get(r.Context(), id)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	d, err := h.d.Webhooks.Delivery(r.Context(), id, deliveryID(r))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "webhook-delivery", deliveryPage{Webhook: sub, Delivery: d,
		MessageID: webhook.MessageID(d.EventID)})
}

func (h *Handler) deliveryReplay(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	d, err := h.d.Webhooks.Replay(r.Context(), id, deliveryID(r))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, webhookPath(id)+"/deliveries/"+strconv.FormatInt(d.ID, 10), "delivery-replayed")
}
