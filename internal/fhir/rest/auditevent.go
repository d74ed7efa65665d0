package rest

import (
	"context"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/search"
	"ward/internal/store"
	"ward/internal/timerange"
)

// AuditTrail is the audit chain as the FHIR interface reads it.
type AuditTrail interface {
	Get(ctx context.Context, id int64) (*audit.Event, error)
	List(ctx context.Context, f audit.Filter, p store.Page) ([]audit.Event, string, error)
}

// auditEventType serves AuditEvent: ward's hash-chained trail. An event
// is in the compartment of the patient it is about (its subject).
func (h *Handler) auditEventType() *resourceType {
	return &resourceType{
		name:          "AuditEvent",
		documentation: "ward's tamper-evident audit trail; patient is the user an event is about.",
		read: func(ctx context.Context, g policy.Grant, raw string) (*found, error) {
			id, err := parseID("AuditEvent", raw)
			if err != nil {
				return nil, err
			}
			e, err := h.d.Trail.Get(ctx, id)
			if err != nil {
				return nil, notFoundAs("AuditEvent", id, err)
			}
			if e.SubjectID == 0 && !g.Admin {
				// An event about no patient belongs to no compartment.
				return nil, apperr.New(apperr.NotFound, "AuditEvent/%d not found", id)
			}
			f := &found{resource: fhir.FromAuditEvent(*e, h.d.Base), id: raw, version: 1, updated: e.Timestamp}
			if e.SubjectID != 0 {
				f.patients = []int64{e.SubjectID}
			}
			return f, nil
		},
		search: h.searchAuditEvents,
	}
}

func (h *Handler) searchAuditEvents(ctx context.Context, g policy.Grant, q search.Query) (*page, error) {
	if q.Summary == search.SummaryCount {
		return nil, apperr.New(apperr.Invalid, "_summary=count is not supported on AuditEvent")
	}
	var f audit.Filter
	var ids []int64
	var requested []int64
	for _, c := range q.Clauses {
		switch c.Param {
		case "patient":
			requested = fhir.IntersectIDs(requested, referenceIDs(c, "Patient"))
		case "date", "_lastUpdated":
			if len(c.Dates) != 1 {
				return nil, apperr.New(apperr.Invalid, "AuditEvent %s takes one value (use two parameters for a range)", c.Param)
			}
			if err := narrowWindow(&f, c.Dates[0].Bound()); err != nil {
				return nil, err
			}
		case "subtype":
			// A subtype is ward's typed event (fhir.SystemWardEventType)
			// or its audit context (fhir.SystemAuditContext); one value,
			// as the trail is filtered by one of each at a time.
			if len(c.Tokens) != 1 {
				return nil, apperr.New(apperr.Invalid, "AuditEvent subtype takes one value")
			}
			t := c.Tokens[0]
			anySystem := t.Match == search.TokenCode
			switch {
			case (anySystem || t.System == fhir.SystemWardEventType) && audit.Registered(audit.EventType(t.Code)) &&
				(f.Type == "" || f.Type == audit.EventType(t.Code)):
				f.Type = audit.EventType(t.Code)
			case (anySystem || t.System == fhir.SystemAuditContext) && audit.ValidContext(audit.Context(t.Code)) &&
				(f.Context == "" || f.Context == audit.Context(t.Code)):
				f.Context = audit.Context(t.Code)
			default:
				// No event carries that coding.
				return &page{}, nil
			}
		case "_id":
			for _, t := range c.Tokens {
				if id, err := parseID("AuditEvent", t.Code); err == nil {
					ids = append(ids, id)
				}
			}
			if ids == nil {
				ids = []int64{}
			}
		}
	}
	patients, err := h.d.Policy.Patients(ctx, g, requested)
	if err != nil {
		return nil, err
	}
	p := &page{}
	switch {
	case patients == nil:
	case len(patients) == 0:
		return p, nil
	case len(patients) == 1:
		f.SubjectID = patients[0]
	default:
		return nil, apperr.New(apperr.Invalid, "AuditEvent search takes one patient at a time")
	}
	if ids != nil {
		return h.auditByID(ctx, f, ids)
	}
	evs, next, err := h.d.Trail.List(ctx, f, store.Page{Limit: q.Count, After: q.Cursor})
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		if e.SubjectID == 0 && !g.Admin {
			continue
		}
		p.resources = append(p.resources, fhir.FromAuditEvent(e, h.d.Base))
		p.patients = append(p.patients, e.SubjectID)
	}
	p.next = next
	return p, nil
}

// auditByID answers an _id search: the named events that pass f.
func (h *Handler) auditByID(ctx context.Context, f audit.Filter, ids []int64) (*page, error) {
	p := &page{}
	for _, id := range ids {
		e, err := h.d.Trail.Get(ctx, id)
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if f.SubjectID != 0 && e.SubjectID != f.SubjectID || f.Type != "" && e.Type != f.Type ||
			f.Context != "" && e.Context != f.Context || !f.From.IsZero() && e.Timestamp.Before(f.From) ||
			!f.To.IsZero() && !e.Timestamp.Before(f.To) {
			continue
		}
		p.resources = append(p.resources, fhir.FromAuditEvent(*e, h.d.Base))
		p.patients = append(p.patients, e.SubjectID)
	}
	p.total = intPtr(len(p.resources))
	return p, nil
}

// narrowWindow folds a date bound into the trail's [From, To) window.
// Events are instants, so each prefix that describes a window maps onto
// one exactly; ne and ap do not and are refused.
func narrowWindow(f *audit.Filter, b timerange.Bound) error {
	from, to := time.Time{}, time.Time{}
	switch b.Prefix {
	case timerange.Eq:
		from, to = b.Start, b.End
	case timerange.Ge:
		from = b.Start
	case timerange.Gt, timerange.Sa:
		from = b.End
	case timerange.Le:
		to = b.End
	case timerange.Lt, timerange.Eb:
		to = b.Start
	default:
		return apperr.New(apperr.Invalid, "AuditEvent date supports the prefixes eq, ge, gt, le, lt, sa and eb")
	}
	if !from.IsZero() && (f.From.IsZero() || from.After(f.From)) {
		f.From = from
	}
	if !to.IsZero() && (f.To.IsZero() || to.Before(f.To)) {
		f.To = to
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return apperr.New(apperr.Invalid, "the AuditEvent date range is empty")
	}
	return nil
}
