package api

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/fhir"
)

// This file is the API's only contact with internal/fhir's mapping: decode
// a body into directory values, render directory values as resources.

// fhirBase is where ward's FHIR endpoint lives; references in resources
// served here point there, so a client can follow them.
func (s *server) fhirBase() string {
	if s.base == "" {
		return ""
	}
	return s.base + "/fhir"
}

// decodeOrganization reads a FHIR Organization body (strictly: wrong
// resourceType, unknown members and malformed JSON are Invalid); partOf must
// be on this server, under base.
func decodeOrganization(raw []byte, base string) (*directory.Organization, error) {
	o, err := fhir.DecodeOrganization(raw)
	if err != nil {
		return nil, err
	}
	return fhir.ToDirectoryOrganization(o, base)
}

// organizationResource renders o.
func (s *server) organizationResource(o *directory.Organization) *fhir.Organization {
	return fhir.OrganizationFromDirectory(o, s.fhirBase())
}

// organizationBundle renders one page of organizations as a searchset
// whose next link carries the cursor of the following page and whose total
// counts every organization, not just this page.
func (s *server) organizationBundle(orgs []*directory.Organization, next string, limit, total int) (*fhir.Bundle, error) {
	res := make([]any, len(orgs))
	for i, o := range orgs {
		res[i] = s.organizationResource(o)
	}
	self := s.base + "/api/organization"
	nextURL := ""
	if next != "" {
		q := url.Values{"cursor": {next}}
		if limit > 0 {
			q.Set("limit", strconv.Itoa(limit))
		}
		nextURL = self + "?" + q.Encode()
	}
	return fhir.SearchsetBundle(s.fhirBase(), self, nextURL, &total, res), nil
}

// patientOf renders u with its identifiers and organizations.
func (s *server) patientOf(ctx context.Context, u *directory.User) (*fhir.Patient, error) {
	ids, err := s.dir.UserIdentifiers(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	orgs, err := s.dir.UserOrganizations(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	orgIDs := make([]int64, len(orgs))
	for i, o := range orgs {
		orgIDs[i] = o.ID
	}
	return fhir.PatientFromUser(u, ids, orgIDs, s.fhirBase()), nil
}

// patientPatch decodes a Patient body meant for user id and returns the
// change to apply inside Directory.UpdateUser: only members present in the
// body replace stored values. Identifiers and organizations are not
// changed here (they have their own routes and their own audit events), so
// a client may PUT back what it read. base is the FHIR base URL references
// must be under.
func patientPatch(id int64, raw []byte, base string) (func(*directory.User) error, error) {
	p, err := fhir.DecodePatient(raw)
	if err != nil {
		return nil, err
	}
	if p.ID != "" && p.ID != strconv.FormatInt(id, 10) {
		return nil, apperr.New(apperr.Invalid, "Patient.id %q does not match user %d in the path", clipID(p.ID), id)
	}
	present, err := fhir.PresentFields(raw)
	if err != nil {
		return nil, err
	}
	return func(u *directory.User) error { return fhir.ApplyPatient(u, p, present, base) }, nil
}

// clipID bounds an id echoed back in an error message.
func clipID(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// auditBundle renders one page of audit events as a searchset; next is the
// full URL of the following page, or "".
func (s *server) auditBundle(events []audit.Event, nextURL string) *fhir.Bundle {
	res := make([]any, len(events))
	for i, e := range events {
		res[i] = fhir.FromAuditEvent(e, s.fhirBase())
	}
	return fhir.SearchsetBundle(s.fhirBase(), "", nextURL, nil, res)
}

// auditNextURL is the URL of the page after this one, with the same filters.
func (s *server) auditNextURL(path string, user, subject int64, q auditQuery, next string) string {
	if next == "" {
		return ""
	}
	v := url.Values{"cursor": {next}}
	if user != 0 {
		v.Set("user", strconv.FormatInt(user, 10))
	}
	if subject != 0 {
		v.Set("subject", strconv.FormatInt(subject, 10))
	}
	if q.Context != "" {
		v.Set("context", q.Context)
	}
	if q.Type != "" {
		v.Set("type", q.Type)
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Format != "" {
		v.Set("format", q.Format)
	}
	return s.base + path + "?" + v.Encode()
}
