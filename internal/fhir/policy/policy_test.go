package policy

import (
	"context"
	"slices"
	"testing"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/oauth/scope"
)

// fakeDir lets the acting user view the patients in view and edit those in
// edit; admin makes ViewsEveryone true.
type fakeDir struct {
	view, edit map[int64]bool
	admin      bool
}

func (f fakeDir) CheckRole(_ context.Context, perm directory.Permission, id int64) error {
	if perm == directory.Edit && f.edit[id] || perm == directory.View && f.view[id] {
		return nil
	}
	if id > 1000 {
		return apperr.New(apperr.NotFound, "no such user")
	}
	return apperr.New(apperr.Forbidden, "no")
}

func (f fakeDir) ViewsEveryone(context.Context) (bool, error) { return f.admin, nil }

func ctxWith(a actor.Actor) context.Context { return actor.With(context.Background(), a) }

func TestDecide(t *testing.T) {
	p := New(fakeDir{})
	patientApp := actor.Actor{ClientID: "app", UserID: 7, Patient: 7, Scopes: []string{"launch/patient", "patient/Observation.rs", "patient/Patient.read"}}
	cases := []struct {
		name    string
		a       actor.Actor
		typ     string
		in      Interaction
		want    scope.Context
		kind    apperr.Kind // 0 when allowed
		patient int64
	}{
		{"no token", actor.Actor{UserID: 7}, "Patient", Read, "", apperr.Unauthenticated, 0},
		{"anonymous", actor.Actor{}, "Patient", Read, "", apperr.Unauthenticated, 0},
		{"patient v2 read", patientApp, "Observation", Read, scope.ContextPatient, 0, 7},
		{"patient v2 search", patientApp, "Observation", Search, scope.ContextPatient, 0, 7},
		{"patient v1 read = rs", patientApp, "Patient", Search, scope.ContextPatient, 0, 7},
		{"patient scope does not write", patientApp, "Observation", Create, "", apperr.Forbidden, 0},
		{"patient scope other type", patientApp, "Procedure", Read, "", apperr.Forbidden, 0},
		{"patient scope without launch patient", actor.Actor{ClientID: "app", UserID: 7, Scopes: []string{"patient/Observation.rs"}}, "Observation", Read, "", apperr.Forbidden, 0},
		{"patient wildcard reads organizations", actor.Actor{ClientID: "app", UserID: 7, Patient: 7, Scopes: []string{"patient/*.rs"}}, "Organization", Read, scope.ContextPatient, 0, 0},
		{"patient wildcard never writes organizations", actor.Actor{ClientID: "app", UserID: 7, Patient: 7, Scopes: []string{"patient/*.cruds"}}, "Organization", Create, "", apperr.Forbidden, 0},
		{"patient scope never creates a patient", actor.Actor{ClientID: "app", UserID: 7, Patient: 7, Scopes: []string{"patient/Patient.cruds"}}, "Patient", Create, "", apperr.Forbidden, 0},
		{"patient scope still updates its patient", actor.Actor{ClientID: "app", UserID: 7, Patient: 7, Scopes: []string{"patient/Patient.cruds"}}, "Patient", Update, scope.ContextPatient, 0, 7},
		{"user scope creates a patient", actor.Actor{ClientID: "app", UserID: 3, Scopes: []string{"user/Patient.c"}}, "Patient", Create, scope.ContextUser, 0, 0},
		{"system scope creates a patient", actor.Actor{ClientID: "svc", Scopes: []string{"system/Patient.write"}}, "Patient", Create, scope.ContextSystem, 0, 0},
		{"user scope", actor.Actor{ClientID: "app", UserID: 3, Scopes: []string{"user/Patient.rs"}}, "Patient", Read, scope.ContextUser, 0, 0},
		{"user scope lacks search", actor.Actor{ClientID: "app", UserID: 3, Scopes: []string{"user/Patient.r"}}, "Patient", Search, "", apperr.Forbidden, 0},
		{"system scope", actor.Actor{ClientID: "svc", Scopes: []string{"system/*.rs"}}, "Observation", Search, scope.ContextSystem, 0, 0},
		{"system scope not for a person's token", actor.Actor{ClientID: "svc", UserID: 3, Scopes: []string{"system/*.rs"}}, "Observation", Search, "", apperr.Forbidden, 0},
		{"operation scope grants no read", actor.Actor{ClientID: "svc", Scopes: []string{"system/*.$export"}}, "Patient", Read, "", apperr.Forbidden, 0},
		{"ward itself", actor.Actor{System: true}, "AuditEvent", Search, scope.ContextSystem, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := p.Decide(ctxWith(c.a), c.typ, c.in)
			if c.kind != 0 {
				if apperr.KindOf(err) != c.kind || err == nil {
					t.Fatalf("got %v (%v), want kind %v", g, err, c.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Context != c.want || g.Patient != c.patient {
				t.Errorf("grant %+v, want context %s patient %d", g, c.want, c.patient)
			}
		})
	}
}

func TestPatientAccess(t *testing.T) {
	p := New(fakeDir{view: map[int64]bool{20: true}, edit: map[int64]bool{}})
	ctx := ctxWith(actor.Actor{ClientID: "app", UserID: 3})
	patient := Grant{Context: scope.ContextPatient, Patient: 7}
	user := Grant{Context: scope.ContextUser}
	for _, c := range []struct {
		name string
		g    Grant
		id   int64
		in   Interaction
		ok   bool
	}{
		{"own compartment", patient, 7, Read, true},
		{"another patient", patient, 8, Read, false},
		{"user may view", user, 20, Read, true},
		{"user may not view", user, 21, Read, false},
		{"user may not view or edit", user, 21, Update, false},
		{"unknown patient", user, 5000, Read, false},
		{"admin", Grant{Context: scope.ContextSystem, Admin: true}, 21, Update, true},
	} {
		err := p.PatientAccess(ctx, c.g, c.id, c.in)
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && apperr.KindOf(err) != apperr.NotFound {
			t.Errorf("%s: got %v, want NotFound (never Forbidden, which would reveal the resource)", c.name, err)
		}
	}
}

func TestPatients(t *testing.T) {
	p := New(fakeDir{view: map[int64]bool{20: true}})
	ctx := ctxWith(actor.Actor{ClientID: "app", UserID: 3})
	patient := Grant{Context: scope.ContextPatient, Patient: 7}
	if got, _ := p.Patients(ctx, patient, nil); !slices.Equal(got, []int64{7}) {
		t.Errorf("patient context, no patient named: %v, want [7]", got)
	}
	if got, _ := p.Patients(ctx, patient, []int64{8, 9}); got == nil || len(got) != 0 {
		t.Errorf("patient context, others named: %v, want an empty set", got)
	}
	user := Grant{Context: scope.ContextUser}
	if got, _ := p.Patients(ctx, user, []int64{20, 21}); !slices.Equal(got, []int64{20}) {
		t.Errorf("user context: %v, want [20]", got)
	}
	if _, err := p.Patients(ctx, user, nil); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("user context without a patient: %v, want Invalid", err)
	}
	if got, _ := p.Patients(ctx, Grant{Admin: true}, nil); got != nil {
		t.Errorf("admin: %v, want no bound", got)
	}
}

func TestCanDocument(t *testing.T) {
	p := New(fakeDir{})
	if _, err := p.CanDocument(ctxWith(actor.Actor{ClientID: "svc", Scopes: []string{"system/Document.read"}})); err != nil {
		t.Errorf("system/Document.read: %v", err)
	}
	if _, err := p.CanDocument(ctxWith(actor.Actor{ClientID: "svc", Scopes: []string{"system/Patient.read"}})); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("without a document scope: %v, want Forbidden", err)
	}
}

// TestViewButNotEdit: a write to a record the caller may see but not
// change is Forbidden, not NotFound (its existence is no secret to them).
// TestPatientContextWriteNeedsEdit: a staff member launches an app with a
// patient they may only view; the app's patient/ write scope does not let
// them change that record (issue 9: scopes are bounded at use by the
// signed-in person's rights).
func TestPatientContextWriteNeedsEdit(t *testing.T) {
	launched := Grant{Context: scope.ContextPatient, Patient: 7}
	ctx := ctxWith(actor.Actor{ClientID: "app", UserID: 3, Patient: 7})
	viewOnly := New(fakeDir{view: map[int64]bool{7: true}})
	for _, in := range []Interaction{Create, Update} {
		if err := viewOnly.PatientAccess(ctx, launched, 7, in); apperr.KindOf(err) != apperr.Forbidden {
			t.Errorf("%s by a viewer: %v, want Forbidden", in, err)
		}
	}
	if err := viewOnly.PatientAccess(ctx, launched, 7, Read); err != nil {
		t.Errorf("read by a viewer: %v", err)
	}
	editor := New(fakeDir{view: map[int64]bool{7: true}, edit: map[int64]bool{7: true}})
	if err := editor.PatientAccess(ctx, launched, 7, Create); err != nil {
		t.Errorf("create by an editor: %v", err)
	}
	if err := editor.PatientAccess(ctx, launched, 8, Create); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("create outside the launch patient: %v, want NotFound", err)
	}
}

func TestViewButNotEdit(t *testing.T) {
	p := New(fakeDir{view: map[int64]bool{20: true}})
	ctx := ctxWith(actor.Actor{ClientID: "app", UserID: 3})
	err := p.PatientAccess(ctx, Grant{Context: scope.ContextUser}, 20, Update)
	if apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("view-only update: %v, want Forbidden", err)
	}
}
