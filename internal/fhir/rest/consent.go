package rest

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/search"
	"ward/internal/timerange"
)

// Consents is the directory's consent records, read as ward once the
// policy has allowed the patient.
type Consents interface {
	Consents(ctx context.Context, userID int64) ([]directory.Consent, error)
}

// consentType serves Consent: a patient's consents to share their record
// with an organization, the facts check_role reads. Ids are
// {patient}-{consent}, so a read finds the patient (and its access check)
// before the record.
func (h *Handler) consentType() *resourceType {
	return &resourceType{
		name:          "Consent",
		documentation: "Patients' consents to share their record with an organization (and its subtree); ids are {patient}-{consent}. Search needs patient.",
		read: func(ctx context.Context, g policy.Grant, raw string) (*found, error) {
			patient, id, ok := parseConsentID(raw)
			if !ok {
				return nil, apperr.New(apperr.NotFound, "Consent/%s not found", clipID(raw))
			}
			if err := h.d.Policy.PatientAccess(ctx, g, patient, policy.Read); err != nil {
				return nil, err
			}
			cs, err := h.d.Consents.Consents(asWard(ctx), patient)
			if err != nil {
				return nil, notFoundAs("Consent", patient, err)
			}
			for i := range cs {
				if cs[i].ID == id {
					return h.consentFound(&cs[i])
				}
			}
			return nil, apperr.New(apperr.NotFound, "Consent/%s not found", raw)
		},
		search: func(ctx context.Context, g policy.Grant, q search.Query) (*page, error) {
			var requested []int64
			for _, c := range q.Clauses {
				if c.Param == "patient" {
					requested = fhir.IntersectIDs(requested, referenceIDs(c, "Patient"))
				}
			}
			patients, err := h.d.Policy.Patients(ctx, g, requested)
			if err != nil {
				return nil, err
			}
			if patients == nil {
				return nil, apperr.New(apperr.Invalid, "Consent search needs patient (patient=Patient/ID)")
			}
			var all []*found
			for _, patient := range patients {
				cs, err := h.d.Consents.Consents(asWard(ctx), patient)
				if apperr.Is(err, apperr.NotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				for i := range cs {
					f, err := h.consentFound(&cs[i])
					if err != nil {
						return nil, err
					}
					if consentMatches(f, q, h) {
						all = append(all, f)
					}
				}
			}
			return pageOf(all, q)
		},
	}
}

func (h *Handler) consentFound(c *directory.Consent) (*found, error) {
	res := fhir.ConsentAt(c, h.d.Base, h.d.Now())
	id := fmt.Sprintf("%d-%d", c.UserID, c.ID)
	res.ID = id
	updated := c.AcceptanceDate
	if c.DeletedAt != nil {
		updated = *c.DeletedAt
	}
	// Consents carry no version counter; the version is a hash of the
	// resource, so an ETag changes whenever its status, options or expiry
	// do (and when it lapses).
	res.Meta = nil
	version, err := contentVersion(res)
	if err != nil {
		return nil, err
	}
	res.Meta = fhir.MetaFor(version, updated)
	return &found{resource: res, id: id, version: version, updated: updated, patients: []int64{c.UserID}}, nil
}

func consentMatches(f *found, q search.Query, h *Handler) bool {
	for _, c := range q.Clauses {
		switch c.Param {
		case "_id":
			ok := false
			for _, t := range c.Tokens {
				ok = ok || t.Code == f.id
			}
			if !ok {
				return false
			}
		case "_lastUpdated":
			if lo, hi := timerange.Instant(f.updated); !allDates(c, lo, hi, h.d.Now()) {
				return false
			}
		}
	}
	return true
}

// pageOf pages an in-memory result by position; the cursor is the index
// of the next entry. Used for results bounded by one patient's records.
func pageOf(all []*found, q search.Query) (*page, error) {
	p := &page{total: intPtr(len(all))}
	if q.Summary == search.SummaryCount {
		return p, nil
	}
	start := 0
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n < 0 {
			return nil, apperr.New(apperr.Invalid, "_cursor is not a cursor this server issued")
		}
		start = min(n, len(all))
	}
	end := min(start+q.Count, len(all))
	for _, f := range all[start:end] {
		p.resources = append(p.resources, f.resource)
		p.patients = append(p.patients, f.patients...)
	}
	if end < len(all) {
		p.next = strconv.Itoa(end)
	}
	return p, nil
}

func parseConsentID(s string) (patient, id int64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	p, err1 := parseID("Consent", a)
	c, err2 := parseID("Consent", b)
	return p, c, err1 == nil && err2 == nil
}
