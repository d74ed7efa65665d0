package rest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/matching"
	"ward/internal/oauth/scope"
)

// Matcher finds and scores the candidates for a Patient/$match query, best
// first, graded possible or better. It decides nothing about access: the
// handler walks the list through the policy.
type Matcher interface {
	Match(ctx context.Context, q matching.Record) ([]matching.Candidate, error)
}

// PathPatientMatch is where $match is served (POST only: it takes a
// resource).
const PathPatientMatch = "/fhir/Patient/$match"

// matchOperation is $match's CapabilityStatement entry.
var matchOperation = fhir.CapabilityStatementOperation{Name: "match", Definition: fhir.OperationPatientMatch}

// match answers POST /fhir/Patient/$match (R4 OperationDefinition
// Patient-match): a searchset of the patients the caller may see that
// match the Patient given, best first, each with search.score in 0..1 and
// the match-grade extension. A system/ scope allowing Patient read sees
// every patient; a user/ one only those check_role lets the person view
// (the permission function Patient search runs on); patient/ scopes are
// refused: matching people is a registry's job, not an app's for its
// launch patient.
func (h *Handler) match(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g, err := h.d.Policy.Decide(ctx, "Patient", policy.Read)
	if err == nil && g.Context == scope.ContextPatient {
		err = apperr.New(apperr.Forbidden, "Patient/$match needs system/Patient.read or user/Patient.read (a patient/ scope reaches one patient only)")
	}
	if err != nil {
		if apperr.Is(err, apperr.Forbidden) {
			h.auditRefused(ctx, r, http.StatusForbidden, err)
		}
		h.fail(w, r, err)
		return
	}
	// The body is read only once the scopes allow the operation.
	body, err := ReadBody(r, h.d.MaxBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	req, err := fhir.DecodeMatchRequest(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cands, err := h.d.Matcher.Match(asWard(ctx), fhir.MatchRecord(req.Patient))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	visible, err := h.visibleMatches(ctx, g, cands, req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var outcome *fhir.OperationOutcome
	if req.OnlyCertainMatches && len(visible) > 1 {
		// R4: "If there are multiple potential matches, then the match
		// should not return the results with this flag set to true."
		outcome = fhir.NewOperationOutcome("information", "multiple-matches",
			"more than one record matches as certain; none is returned with onlyCertainMatches=true (ask without it to review them)")
		visible = nil
	}
	b, err := h.matchBundle(ctx, visible, outcome)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ids := make([]int64, len(visible))
	for i, c := range visible {
		ids[i] = c.User.ID
	}
	if err := h.auditRead(ctx, "$match Patient", ids); err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, b)
}

// visibleMatches walks the candidates best first, keeping those g reaches,
// until req.Count are kept; with onlyCertainMatches it keeps certain ones
// only, and stops at two (enough to know there is more than one). Each
// check is the same as a Patient read's, so a match reveals no patient a
// read would not.
func (h *Handler) visibleMatches(ctx context.Context, g policy.Grant, cands []matching.Candidate, req *fhir.MatchRequest) ([]matching.Candidate, error) {
	limit := req.Count
	if req.OnlyCertainMatches {
		limit = 2
	}
	var out []matching.Candidate
	for _, c := range cands {
		if len(out) == limit {
			break
		}
		if req.OnlyCertainMatches && c.Grade != matching.Certain {
			continue
		}
		err := h.d.Policy.PatientAccess(ctx, g, c.User.ID, policy.Read)
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// matchBundle renders the matches as a searchset: each entry's search has
// mode match, the score and the match-grade extension.
func (h *Handler) matchBundle(ctx context.Context, cands []matching.Candidate, outcome *fhir.OperationOutcome) (*fhir.Bundle, error) {
	ids := make([]int64, len(cands))
	for i, c := range cands {
		ids[i] = c.User.ID
	}
	orgs := map[int64][]int64{}
	if len(ids) > 0 {
		var err error
		if orgs, err = h.d.Directory.UserOrganizationsFor(asWard(ctx), ids); err != nil {
			return nil, err
		}
	}
	b := &fhir.Bundle{Type: "searchset", Total: intPtr(len(cands)),
		Timestamp: h.d.Now().UTC().Format(time.RFC3339),
		Link:      []fhir.BundleLink{{Relation: "self", URL: h.d.Base + "/Patient/$match"}},
		Entry:     make([]fhir.BundleEntry, 0, len(cands)+1)}
	for _, c := range cands {
		p := fhir.PatientFromUser(c.User, c.Identifiers, orgs[c.User.ID], h.d.Base)
		b.Entry = append(b.Entry, fhir.BundleEntry{
			FullURL:  h.d.Base + "/Patient/" + formatID(c.User.ID),
			Resource: p,
			Search: &fhir.BundleEntrySearch{Mode: "match", Score: fhir.Decimal(strconv.FormatFloat(c.Score, 'f', -1, 64)),
				Extension: []fhir.Extension{{URL: fhir.ExtMatchGrade, ValueCode: string(c.Grade)}}},
		})
	}
	if outcome != nil {
		b.Entry = append(b.Entry, fhir.BundleEntry{Resource: outcome, Search: &fhir.BundleEntrySearch{Mode: "outcome"}})
	}
	return b, nil
}

// auditRefused records a refused request (its scopes do not allow it), as
// the bearer middleware records a refused credential.
func (h *Handler) auditRefused(ctx context.Context, r *http.Request, status int, cause error) {
	err := h.d.Audit.Record(ctx, audit.Change{Type: audit.RequestRefused,
		Fields:  map[string]any{"status": status, "path": r.URL.Path},
		Comment: fmt.Sprintf("request refused (%d): %s; %s %s", status, apperr.Message(cause), r.Method, r.URL.Path)})
	if err != nil {
		h.d.Logger.ErrorContext(ctx, "audit refused request", "err", err)
	}
}
