package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/connector"
	"ward/internal/directory"
	"ward/internal/jobs"
	"ward/internal/store"
)

// The home page shows each number, list and warning only when the service
// behind it answers the signed-in person: a count the service refuses is
// left out (never shown as 0), so an administrator sees everything, a
// staff administrator or a developer what their services give them, and a
// patient the little that is public.

// tokenWarnWindow is how far ahead the home page warns of expiring service
// tokens: the token janitor's default alert window (jobs.Default).
const tokenWarnWindow = 6 * 7 * 24 * time.Hour

// recentEvents is how many audit events the home page lists.
const recentEvents = 10

// homePage is the data of the console's home page.
type homePage struct {
	Sections []navItem
	Counts   []homeCount
	Warnings []homeWarning
	// Audit is the latest events the caller may read; AuditAll says they
	// are everyone's (an administrator), not only the caller's own.
	Audit     []audit.Event
	ShowAudit bool
	AuditAll  bool
	// Jobs is the queue's health, nil when refused.
	Jobs *jobs.Health
	// Connectors is nil when refused; ShowConnectors tells an empty list
	// from a refused one.
	Connectors     []*connector.Connector
	ShowConnectors bool
}

// homeCount is one number on the home page with the page that lists it.
type homeCount struct {
	ID    string
	Label string
	N     int
	Link  string
}

// homeWarning is one thing an operator should act on.
type homeWarning struct {
	Text string
	Link string
	// LinkText says what the link does.
	LinkText string
}

// PageTitle implements titled.
func (homePage) PageTitle() string { return "Home" }

// refused reports whether err is a service's refusal, which the home page
// answers by leaving the item out; any other error is returned to fail
// the page.
func refused(err error) (bool, error) {
	switch apperr.KindOf(err) {
	case apperr.Forbidden, apperr.Unauthenticated, apperr.NotFound:
		return true, nil
	}
	return false, err
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	p := homePage{Sections: rq.Nav[1:]}
	if err := h.homeCounts(ctx, &p); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if err := h.homeAudit(ctx, rq, &p); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if err := h.homeHealth(ctx, &p); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "home", p)
}

// homeCounts fills the counts and the disabled-webhooks warning.
func (h *Handler) homeCounts(ctx context.Context, p *homePage) error {
	add := func(id, label, link string, count func() (int, error)) error {
		n, err := count()
		if err == nil {
			p.Counts = append(p.Counts, homeCount{ID: id, Label: label, N: n, Link: link})
			return nil
		}
		if ok, err := refused(err); !ok {
			return fmt.Errorf("count %s: %w", label, err)
		}
		return nil
	}
	if err := add("count-people", "People", "/admin/people", func() (int, error) {
		return h.d.Directory.CountUsers(ctx, directory.UserFilter{})
	}); err != nil {
		return err
	}
	if err := add("count-organizations", "Organizations", "/admin/organizations", func() (int, error) {
		return h.d.Directory.CountOrganizations(ctx)
	}); err != nil {
		return err
	}
	if h.d.Clients != nil {
		if err := add("count-clients", "API clients", "/admin/clients", func() (int, error) {
			return h.d.Clients.Count(ctx, client.Filter{})
		}); err != nil {
			return err
		}
	}
	if h.d.OAuth != nil {
		if err := add("count-tokens", "Live tokens", "/admin/tokens", func() (int, error) {
			return h.d.OAuth.CountLiveTokens(ctx)
		}); err != nil {
			return err
		}
	}
	if h.d.Exports != nil {
		if err := add("count-exports", "Bulk exports", "/admin/exports", func() (int, error) {
			return h.d.Exports.Count(ctx)
		}); err != nil {
			return err
		}
	}
	if h.d.Webhooks != nil {
		c, err := h.d.Webhooks.Count(ctx)
		if err == nil {
			p.Counts = append(p.Counts, homeCount{ID: "count-webhooks", Label: "Webhooks", N: c.Total, Link: "/admin/webhooks"})
			if c.Disabled > 0 {
				p.Warnings = append(p.Warnings, homeWarning{
					Text: fmt.Sprintf("%d webhook subscription(s) are disabled and receive no events.", c.Disabled),
					Link: "/admin/webhooks", LinkText: "Review the webhooks"})
			}
		} else if ok, err := refused(err); !ok {
			return fmt.Errorf("count webhooks: %w", err)
		}
	}
	if h.d.OAuth != nil {
		ts, err := h.d.OAuth.ExpiringServiceTokens(ctx, tokenWarnWindow)
		if err != nil {
			if ok, err := refused(err); !ok {
				return fmt.Errorf("expiring service tokens: %w", err)
			}
		}
		for _, t := range ts {
			p.Warnings = append(p.Warnings, homeWarning{
				Text: fmt.Sprintf("The token of service account %d expires %s: issue a new one before then.",
					t.UserID, t.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")),
				Link: "/admin/people/" + strconv.FormatInt(t.UserID, 10), LinkText: fmt.Sprintf("Open service account %d", t.UserID)})
		}
	}
	return nil
}

// homeAudit fills the recent audit events by the API's rule
// (internal/api/auditlog.go): an administrator reads every event, anyone
// else the events that involve them.
func (h *Handler) homeAudit(ctx context.Context, rq *request, p *homePage) error {
	if h.d.Audit == nil {
		return nil
	}
	all, self, err := h.d.Directory.AuditScope(ctx)
	if err != nil {
		if ok, err := refused(err); !ok {
			return fmt.Errorf("may the caller read the audit log: %w", err)
		}
		return nil
	}
	f := audit.Filter{NewestFirst: true}
	p.AuditAll = all
	if !all {
		f.Involving = self
	}
	evs, _, err := h.d.Audit.List(ctx, f, store.Page{Limit: recentEvents})
	if err != nil {
		if ok, err := refused(err); !ok {
			return fmt.Errorf("recent audit events: %w", err)
		}
		return nil
	}
	p.Audit, p.ShowAudit = evs, true
	return nil
}

// homeHealth fills job and connector health, and warns of connectors that
// are not connected or whose last refresh failed.
func (h *Handler) homeHealth(ctx context.Context, p *homePage) error {
	if h.d.Jobs != nil {
		hl, err := h.d.Jobs.Health(ctx, h.d.Now().Add(-24*time.Hour))
		if err == nil {
			p.Jobs = &hl
		} else if ok, err := refused(err); !ok {
			return fmt.Errorf("job health: %w", err)
		}
	}
	if h.d.Connectors == nil {
		return nil
	}
	cs, err := h.d.Connectors.List(ctx)
	if err != nil {
		if ok, err := refused(err); !ok {
			return fmt.Errorf("list connectors: %w", err)
		}
		return nil
	}
	p.Connectors, p.ShowConnectors = cs, true
	for _, c := range cs {
		link := "/admin/connectors/" + url.PathEscape(c.Name) + "/connect"
		switch {
		case c.Status != connector.StatusConnected:
			p.Warnings = append(p.Warnings, homeWarning{
				Text: fmt.Sprintf("Connector %s is %s: ward cannot call it until an administrator connects it.", c.Name, c.Status),
				Link: link, LinkText: "Connect " + c.Name})
		case c.LastError != "":
			p.Warnings = append(p.Warnings, homeWarning{
				Text: fmt.Sprintf("Connector %s: the last token refresh failed (%s).", c.Name, c.LastError),
				Link: "/admin/connectors/" + url.PathEscape(c.Name), LinkText: "Open connector " + c.Name})
		}
	}
	return nil
}
