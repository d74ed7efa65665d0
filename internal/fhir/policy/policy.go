// Package policy is the one place that decides what a FHIR request may
// touch. A request's SMART scopes say which interactions on which types
// are allowed at all and in which context; the context then bounds the
// data: patient/ scopes reach the launch patient's compartment only, user/
// scopes what the signed-in person may see in the directory (check_role:
// org tree, consents, relationships), system/ scopes what the client was
// registered for. v1 and v2 scopes are the same model (scope.Parse maps
// ".read" to ".rs"), so both are honoured alike.
//
// Two refusals, as R4 and SMART ask: an interaction the scopes do not
// allow is 403 (the caller knows the type exists and lacks the right); a
// resource outside what the context reaches is 404 (the caller must not
// learn that it exists).
package policy

import (
	"context"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/oauth/scope"
)

// Interaction is a FHIR REST interaction, as scopes name them.
type Interaction int

// The interactions ward serves.
const (
	Read Interaction = iota + 1
	Search
	Create
	Update
)

func (in Interaction) perm() scope.Perm {
	switch in {
	case Read:
		return scope.PermRead
	case Search:
		return scope.PermSearch
	case Create:
		return scope.PermCreate
	case Update:
		return scope.PermUpdate
	}
	return 0
}

func (in Interaction) String() string {
	switch in {
	case Read:
		return "read"
	case Search:
		return "search"
	case Create:
		return "create"
	case Update:
		return "update"
	}
	return "unknown"
}

// PatientCompartment lists the types ward serves that belong to the
// Patient compartment (compartmentdefinition-patient.json): what patient/
// scopes and Patient-level export reach. Organization, Practitioner and
// Binary are not in it.
var PatientCompartment = map[string]bool{
	"Patient": true, "Observation": true, "Procedure": true, "Consent": true,
	"AuditEvent": true, "DocumentReference": true, "Group": true, "Task": true,
}

// referenceTypes are the directory's reference data: not patient data, so
// a patient/ scope naming them reads them all (an app showing a patient's
// clinic or doctor needs to), but never writes them.
var referenceTypes = map[string]bool{"Organization": true, "Practitioner": true}

// Grant is what a request may reach once its scopes allow the interaction.
type Grant struct {
	// Context is the scope context that allowed it.
	Context scope.Context
	// Patient is the launch patient for ContextPatient: only resources in
	// that patient's compartment are reachable. 0 otherwise.
	Patient int64
	// Admin is true when the actor is ward itself or acts with an admin's
	// (or service account's) directory rights, so no per-patient check is
	// needed.
	Admin bool
}

// Checker is the directory's permission check, used for user/ context.
type Checker interface {
	CheckRole(ctx context.Context, perm directory.Permission, targetID int64) error
	ViewsEveryone(ctx context.Context) (bool, error)
}

// Policy decides FHIR access. It is safe for concurrent use.
type Policy struct {
	dir Checker
}

// New returns the policy over the directory's permission check.
func New(dir Checker) *Policy { return &Policy{dir: dir} }

// Decide says whether the actor in ctx may perform in on typ at all, and
// in which context. Errors: Unauthenticated without a token, Forbidden
// when no granted scope allows it.
func (p *Policy) Decide(ctx context.Context, typ string, in Interaction) (Grant, error) {
	a := actor.From(ctx)
	if a.System {
		return Grant{Context: scope.ContextSystem, Admin: true}, nil
	}
	if a.ClientID == "" {
		return Grant{}, apperr.New(apperr.Unauthenticated, "the FHIR API needs an access token (Authorization: Bearer)")
	}
	granted := parseGranted(a.Scopes)
	perm := in.perm()
	allows := func(c scope.Context, t string) bool { return scope.Allows(granted, c, t, perm) }
	if allows(scope.ContextSystem, typ) && a.UserID == 0 {
		return Grant{Context: scope.ContextSystem, Admin: true}, nil
	}
	if a.UserID != 0 && allows(scope.ContextUser, typ) {
		admin, err := p.dir.ViewsEveryone(ctx)
		if err != nil {
			return Grant{}, err
		}
		return Grant{Context: scope.ContextUser, Admin: admin}, nil
	}
	if a.Patient != 0 && allows(scope.ContextPatient, typ) {
		if typ == "Patient" && in == Create {
			// A patient/ scope reaches one existing patient's compartment;
			// a new patient is outside it by definition. Creating people is
			// the signed-in person's directory right (user/ scopes) or a
			// registered backend's (system/ scopes).
			return Grant{}, apperr.New(apperr.Forbidden, "a patient/ scope cannot create a new Patient; creating a Patient needs user/Patient.c or system/Patient.c")
		}
		if referenceTypes[typ] && (in == Read || in == Search) {
			return Grant{Context: scope.ContextPatient, Admin: true}, nil
		}
		if PatientCompartment[typ] {
			return Grant{Context: scope.ContextPatient, Patient: a.Patient}, nil
		}
	}
	return Grant{}, apperr.New(apperr.Forbidden, "the access token's scopes do not allow %s on %s", in, typ)
}

// DecideAction says whether the actor in ctx may take the workflow action
// (scope.TaskActions: validate, register, certify, issue, reject) on
// Task, and in which context. Only a scope naming that very action allows
// it (system/Task.certify, or user/Task.certify for a signed-in
// registrar): no cruds or wildcard scope does, because each step is a
// decision of its own that an administrator grants separately. A system/
// grant reaches every declaration; a user/ grant only those whose patient
// the person may edit (PatientAccess with Update), and those naming no
// ward patient only when the person sees everyone. Errors: Unauthenticated
// without a token, Forbidden naming the scope that is missing.
func (p *Policy) DecideAction(ctx context.Context, action string) (Grant, error) {
	a := actor.From(ctx)
	if a.System {
		return Grant{Context: scope.ContextSystem, Admin: true}, nil
	}
	if a.ClientID == "" {
		return Grant{}, apperr.New(apperr.Unauthenticated, "the FHIR API needs an access token (Authorization: Bearer)")
	}
	if !scope.IsTaskAction(action) {
		return Grant{}, apperr.New(apperr.Forbidden, "%q is not a workflow action", action)
	}
	granted := parseGranted(a.Scopes)
	if a.UserID == 0 && scope.AllowsAction(granted, scope.ContextSystem, action) {
		return Grant{Context: scope.ContextSystem, Admin: true}, nil
	}
	if a.UserID != 0 && scope.AllowsAction(granted, scope.ContextUser, action) {
		admin, err := p.dir.ViewsEveryone(ctx)
		if err != nil {
			return Grant{}, err
		}
		return Grant{Context: scope.ContextUser, Admin: admin}, nil
	}
	want := "system/Task." + action
	if a.UserID != 0 {
		want = "user/Task." + action
	}
	return Grant{}, apperr.New(apperr.Forbidden, "the %s action needs the scope %s (no read or write scope implies it)", action, want)
}

// CanDocument reports whether the token may download document content
// (Binary): OpenEMR's system/Document.read, or a read scope on Binary or
// DocumentReference in the token's context.
func (p *Policy) CanDocument(ctx context.Context) (Grant, error) {
	a := actor.From(ctx)
	if a.ClientID != "" && a.UserID == 0 && scope.Allows(parseGranted(a.Scopes), scope.ContextSystem, scope.DocumentType, scope.PermRead) {
		return Grant{Context: scope.ContextSystem, Admin: true}, nil
	}
	g, err := p.Decide(ctx, "Binary", Read)
	if err == nil {
		return g, nil
	}
	return p.Decide(ctx, "DocumentReference", Read)
}

// PatientAccess checks that g reaches patient's data for in (View for
// reads and searches, Edit for writes). Outside the grant it answers
// NotFound, never Forbidden: the caller must not learn that the patient
// or the resource exists.
func (p *Policy) PatientAccess(ctx context.Context, g Grant, patient int64, in Interaction) error {
	if g.Admin {
		return nil
	}
	perm := directory.View
	if in == Create || in == Update {
		perm = directory.Edit
	}
	if g.Context == scope.ContextPatient {
		if patient != g.Patient {
			return notFound()
		}
		if perm == directory.View {
			// Checked when the app was launched: the person may see the
			// launch patient (themselves, or one they chose).
			return nil
		}
		// A patient/ scope is bounded by the signed-in person's rights
		// like a user/ one: a staff member who may see the launch patient
		// but not change their record (a consent not staff-editable) does
		// not gain the write through an app's patient/*.c or .u scope. The
		// patient themselves passes (check_role rule 2: self).
		err := p.dir.CheckRole(ctx, directory.Edit, patient)
		switch apperr.KindOf(err) {
		case apperr.Forbidden, apperr.NotFound:
			return apperr.New(apperr.Forbidden, "you may view this patient's record but not change it")
		}
		return err
	}
	err := p.dir.CheckRole(ctx, perm, patient)
	switch apperr.KindOf(err) {
	case apperr.Forbidden, apperr.NotFound:
		if perm == directory.Edit && p.dir.CheckRole(ctx, directory.View, patient) == nil {
			// They see the record but may not change it (the patient did
			// not make their consent staff-editable): that is no secret.
			return apperr.New(apperr.Forbidden, "you may view this patient's record but not change it")
		}
		return notFound()
	}
	return err
}

// Patients returns the patient set a search is bounded by: nil for no
// bound (admin or system), else the requested patients the grant reaches.
// requested nil means the search named no patient: patient/ context then
// searches its own compartment, user/ context must name the patients (a
// staff member's visible patients are searched on the Patient type, where
// the directory pages through them).
func (p *Policy) Patients(ctx context.Context, g Grant, requested []int64) ([]int64, error) {
	if g.Admin {
		return requested, nil
	}
	if g.Context == scope.ContextPatient {
		if requested == nil {
			return []int64{g.Patient}, nil
		}
		var out []int64
		for _, id := range requested {
			if id == g.Patient {
				out = append(out, id)
			}
		}
		return nonNil(out), nil
	}
	if requested == nil {
		return nil, apperr.New(apperr.Invalid, "name the patient (patient=Patient/ID): with user/ scopes a search is limited to patients you may see")
	}
	var out []int64
	for _, id := range requested {
		err := p.dir.CheckRole(ctx, directory.View, id)
		switch apperr.KindOf(err) {
		case apperr.Forbidden, apperr.NotFound:
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return nonNil(out), nil
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func notFound() error { return apperr.New(apperr.NotFound, "resource not found") }

// parseGranted parses the token's scopes; a scope that no longer parses
// (none should: they were parsed when granted) grants nothing.
func parseGranted(raw []string) []scope.Scope {
	out := make([]scope.Scope, 0, len(raw))
	for _, s := range raw {
		if sc, err := scope.Parse(s); err == nil {
			out = append(out, sc)
		}
	}
	return out
}
