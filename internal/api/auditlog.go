package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/store"
)

// eventJSON is an audit event as the management API shows it.
type eventJSON struct {
	ID        int64     `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	UserID    int64     `json:"user_id,omitempty" doc:"Who acted; absent for ward itself or an anonymous caller."`
	SubjectID int64     `json:"subject_id,omitempty" doc:"The user the event is about."`
	ClientID  string    `json:"client_id,omitempty"`
	Context   string    `json:"context"`
	Type      string    `json:"type,omitempty" doc:"The typed event (user.created, signin.failed, ...); absent on events recorded before types existed."`
	Subject   string    `json:"subject,omitempty" doc:"What changed, as <Kind>/<id> (Patient/12, Observation/9, Client/abc)."`
	Payload   any       `json:"payload,omitempty" doc:"The changed fields that are safe to show, as a JSON object."`
	SourceIP  string    `json:"source_ip,omitempty" doc:"The address the request came from (trusted proxies honoured)."`
	Comment   string    `json:"comment"`
	Version   string    `json:"version"`
}

type eventPage struct {
	Events []eventJSON `json:"events"`
	Next   string      `json:"next,omitempty" doc:"Cursor of the next page; absent on the last page."`
}

// auditQuery is what both audit routes accept. The inputs below repeat
// its fields (huma does not see parameters in embedded unexported structs)
// and convert to it.
type auditQuery struct {
	Context  string
	Type     string
	From, To time.Time
	Cursor   string
	Limit    int
	Format   string
	Accept   string
}

type auditLogInput struct {
	User    int64     `query:"user" minimum:"0" doc:"Only events by this user."`
	Subject int64     `query:"subject" minimum:"0" doc:"Only events about this user."`
	Context string    `query:"context" doc:"Only events of this context (login, user, consent, ...)."`
	Type    string    `query:"type" doc:"Only events of this type (user.created, signin.failed, ...)."`
	From    time.Time `query:"from" doc:"Only events at or after this instant (RFC 3339)."`
	To      time.Time `query:"to" doc:"Only events before this instant (RFC 3339)."`
	Cursor  string    `query:"cursor" doc:"The next value of the previous page."`
	Limit   int       `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
	Format  string    `query:"format" enum:"json,fhir" default:"json" doc:"fhir answers with a FHIR searchset Bundle of AuditEvent."`
	Accept  string    `header:"Accept"`
}

func (in *auditLogInput) query() auditQuery {
	return auditQuery{in.Context, in.Type, in.From, in.To, in.Cursor, in.Limit, in.Format, in.Accept}
}

type userAuditInput struct {
	ID      string    `path:"id" doc:"User id (a positive integer)." example:"42"`
	Context string    `query:"context" doc:"Only events of this context (login, user, consent, ...)."`
	Type    string    `query:"type" doc:"Only events of this type (user.created, signin.failed, ...)."`
	From    time.Time `query:"from" doc:"Only events at or after this instant (RFC 3339)."`
	To      time.Time `query:"to" doc:"Only events before this instant (RFC 3339)."`
	Cursor  string    `query:"cursor" doc:"The next value of the previous page."`
	Limit   int       `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
	Format  string    `query:"format" enum:"json,fhir" default:"json" doc:"fhir answers with a FHIR searchset Bundle of AuditEvent."`
	Accept  string    `header:"Accept"`
}

func (in *userAuditInput) query() auditQuery {
	return auditQuery{in.Context, in.Type, in.From, in.To, in.Cursor, in.Limit, in.Format, in.Accept}
}

func (s *server) registerAudit(api huma.API) {
	tags := []string{"audit"}
	resp := map[string]reflect.Type{
		ctJSON: reflect.TypeFor[eventPage](),
		ctFHIR: reflect.TypeFor[fhir.Bundle](),
	}

	register(api, s, withRaw(huma.Operation{
		OperationID: "list-audit-events", Method: http.MethodGet, Path: "/api/auditlog", Tags: tags,
		Summary: "Audit events",
		Description: "An admin sees every event; anyone else sees only events they did or that are about them. " +
			"Filters combine with AND; pages run in event order.",
	}, nil, resp), func(ctx context.Context, in *auditLogInput) (*rawOutput, error) {
		q := in.query()
		f, err := q.filter()
		if err != nil {
			return nil, err
		}
		f.UserID, f.SubjectID = in.User, in.Subject
		all, self, err := s.dir.AuditScope(ctx)
		if err != nil {
			return nil, err
		}
		if !all {
			f.Involving = self
		}
		return s.listAudit(ctx, f, q, func(next string) string {
			return s.auditNextURL("/api/auditlog", in.User, in.Subject, q, next)
		})
	})

	register(api, s, withRaw(huma.Operation{
		OperationID: "list-user-audit-events", Method: http.MethodGet, Path: "/api/user/{id}/audit", Tags: tags,
		Summary: "Audit events about a user",
		Description: "Needs permission to view the user. The user themself and admins see events the user did " +
			"as well as events about them; others see only events about them.",
		Errors: []int{http.StatusNotFound},
	}, nil, resp), func(ctx context.Context, in *userAuditInput) (*rawOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		q := in.query()
		f, err := q.filter()
		if err != nil {
			return nil, err
		}
		if err := s.dir.CheckRole(ctx, directory.View, id); err != nil {
			return nil, err
		}
		all, self, err := s.dir.AuditScope(ctx)
		if err != nil {
			return nil, err
		}
		// What a user did can name other people (whom they looked at), so
		// only they and admins see that side.
		if all || self == id {
			f.Involving = id
		} else {
			f.SubjectID = id
		}
		return s.listAudit(ctx, f, q, func(next string) string {
			return s.auditNextURL("/api/user/"+in.ID+"/audit", 0, 0, q, next)
		})
	})
}

// filter turns the shared query parameters into an audit.Filter.
func (q *auditQuery) filter() (audit.Filter, error) {
	var f audit.Filter
	if q.Context != "" {
		f.Context = audit.Context(q.Context)
		if !audit.ValidContext(f.Context) {
			return f, apperr.New(apperr.Invalid, "unknown audit context %q", q.Context)
		}
	}
	if q.Type != "" {
		f.Type = audit.EventType(q.Type)
		if !audit.Registered(f.Type) {
			return f, apperr.New(apperr.Invalid, "unknown audit event type %q", q.Type)
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return f, apperr.New(apperr.Invalid, "to must be after from")
	}
	f.From, f.To = q.From, q.To
	return f, nil
}

// listAudit reads one page and encodes it as JSON or as a FHIR Bundle.
func (s *server) listAudit(ctx context.Context, f audit.Filter, q auditQuery, nextURL func(string) string) (*rawOutput, error) {
	events, next, err := s.aud.List(ctx, f, store.Page{Limit: q.Limit, After: q.Cursor})
	if err != nil {
		return nil, err
	}
	if q.Format == "fhir" {
		return rawJSON(http.StatusOK, fhirContentType(q.Accept), s.auditBundle(events, nextURL(next)))
	}
	page := eventPage{Events: make([]eventJSON, len(events)), Next: next}
	for i, e := range events {
		page.Events[i] = eventJSON{
			ID: e.ID, Timestamp: e.Timestamp, UserID: e.UserID, SubjectID: e.SubjectID, ClientID: e.ClientID,
			Context: string(e.Context), Comment: e.Comment, Version: e.Version,
			Type: string(e.Type), Subject: e.Subject, SourceIP: e.SourceIP,
		}
		if e.Payload != "" {
			// Written by audit.Log as a JSON object; shown as one.
			page.Events[i].Payload = json.RawMessage(e.Payload)
		}
	}
	return rawJSON(http.StatusOK, ctJSON, page)
}
