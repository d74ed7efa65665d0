package storetest

import (
	"slices"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/intervention"
)

// validConsent is a consent valid from base for five years.
func validConsent(userID, orgID int64) directory.Consent {
	return directory.Consent{
		UserID:           userID,
		OrganizationID:   orgID,
		AgreementURL:     "https://example.org/agreement/v3",
		Status:           directory.ConsentConsented,
		StaffEditable:    true,
		IncludeInReports: true,
		SendReminders:    true,
		AcceptanceDate:   micro(base),
		ExpiresAt:        micro(base.Add(directory.DefaultConsentLifetime)),
	}
}

func testConsents(t *testing.T, b Backend) {
	ctx := t.Context()
	org1, org2 := newOrg(t, b, "One", 0), newOrg(t, b, "Two", 0)
	u := newUser(t, b, "p@example.org", directory.RolePatient)
	admin := newUser(t, b, "admin@example.org", directory.RoleAdmin)

	older := validConsent(u.ID, org1.ID)
	must(t, b.Directory.CreateConsent(ctx, &older), "older")
	newer := validConsent(u.ID, org2.ID)
	newer.AcceptanceDate = micro(base.Add(time.Hour))
	newer.DeletedAt = microPtr(base.Add(2 * time.Hour))
	newer.DeletedBy = admin.ID
	newer.Status = directory.ConsentDeleted
	must(t, b.Directory.CreateConsent(ctx, &newer), "newer, deleted")
	if older.ID == 0 || newer.ID == 0 {
		t.Fatalf("CreateConsent did not set ids")
	}
	got, err := b.Directory.Consents(ctx, u.ID)
	must(t, err, "list")
	mustEqual(t, got, []directory.Consent{newer, older}, "consents newest first, deleted included")

	// Update writes status, options, expiry and deletion.
	older.Status = directory.ConsentSuspended
	older.StaffEditable, older.IncludeInReports, older.SendReminders = false, false, false
	older.ExpiresAt = micro(base.Add(24 * time.Hour))
	older.DeletedAt = microPtr(base.Add(3 * time.Hour))
	older.DeletedBy = admin.ID
	must(t, b.Directory.UpdateConsent(ctx, &older), "update")
	got, err = b.Directory.Consents(ctx, u.ID)
	must(t, err, "list after update")
	mustEqual(t, got[1], older, "updated consent")

	bad := validConsent(u.ID, 99999)
	wantKind(t, b.Directory.CreateConsent(ctx, &bad), apperr.Invalid, "consent to an unknown organization")
	bad = validConsent(u.ID, org1.ID)
	bad.Status = "maybe"
	wantKind(t, b.Directory.CreateConsent(ctx, &bad), apperr.Invalid, "consent with an unknown status")
	missing := validConsent(u.ID, org1.ID)
	missing.ID = 99999
	wantKind(t, b.Directory.UpdateConsent(ctx, &missing), apperr.NotFound, "update a missing consent")
}

func testPatientsConsentedTo(t *testing.T, b Backend) {
	ctx := t.Context()
	now := base.Add(24 * time.Hour)
	orgA, orgB, orgC := newOrg(t, b, "A", 0), newOrg(t, b, "B", 0), newOrg(t, b, "C", 0)
	patient := func(name string) *directory.User { return newUser(t, b, name+"@example.org", directory.RolePatient) }
	consent := func(u *directory.User, org *directory.Organization, edit func(*directory.Consent)) {
		c := validConsent(u.ID, org.ID)
		if edit != nil {
			edit(&c)
		}
		must(t, b.Directory.CreateConsent(ctx, &c), "consent")
	}

	valid := patient("valid")
	consent(valid, orgA, nil)
	inB := patient("in-b")
	consent(inB, orgB, nil)
	both := patient("both") // counted once
	consent(both, orgA, nil)
	consent(both, orgB, nil)
	twice := patient("twice") // two valid consents to one organization, counted once
	consent(twice, orgA, nil)
	consent(twice, orgA, nil)

	expired := patient("expired")
	consent(expired, orgA, func(c *directory.Consent) { c.ExpiresAt = micro(now) })
	deleted := patient("consent-deleted")
	consent(deleted, orgA, func(c *directory.Consent) { c.Status = directory.ConsentDeleted; c.DeletedAt = microPtr(base) })
	deletedAtOnly := patient("deleted-at-only")
	consent(deletedAtOnly, orgA, func(c *directory.Consent) { c.DeletedAt = microPtr(base) })
	suspended := patient("suspended")
	consent(suspended, orgA, func(c *directory.Consent) { c.Status = directory.ConsentSuspended })
	staff := newUser(t, b, "staff@example.org", directory.RoleStaff)
	consent(staff, orgA, nil)
	noRole := newUser(t, b, "norole@example.org")
	consent(noRole, orgA, nil)
	gone := patient("gone")
	consent(gone, orgA, nil)
	at := base
	must(t, b.Directory.SetUserDeleted(ctx, gone.ID, &at), "delete user")
	elsewhere := patient("elsewhere")
	consent(elsewhere, orgC, nil)

	want := []int64{valid.ID, inB.ID, both.ID, twice.ID}
	got, err := b.Directory.PatientsConsentedTo(ctx, []int64{orgA.ID, orgB.ID}, now, 0, 100)
	must(t, err, "query")
	mustEqual(t, got, want, "visible patients")

	// Paging by afterID, with a limit smaller than one organization's share.
	var paged []int64
	after := int64(0)
	for range 10 {
		page, err := b.Directory.PatientsConsentedTo(ctx, []int64{orgB.ID, orgA.ID, orgA.ID}, now, after, 1)
		must(t, err, "page")
		if len(page) == 0 {
			break
		}
		if len(page) > 1 {
			t.Fatalf("page of %d, limit 1", len(page))
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	mustEqual(t, paged, want, "paged visible patients")

	got, err = b.Directory.PatientsConsentedTo(ctx, []int64{orgC.ID}, now, 0, 100)
	must(t, err, "org C")
	mustEqual(t, got, []int64{elsewhere.ID}, "org C")
	// The expired consent counts before it expires.
	got, err = b.Directory.PatientsConsentedTo(ctx, []int64{orgA.ID}, now.Add(-time.Microsecond), expired.ID-1, 1)
	must(t, err, "before expiry")
	mustEqual(t, got, []int64{expired.ID}, "consent valid until its expiry")
	got, err = b.Directory.PatientsConsentedTo(ctx, nil, now, 0, 100)
	must(t, err, "no orgs")
	if len(got) != 0 {
		t.Fatalf("no organizations gave %v", got)
	}
	_, err = b.Directory.PatientsConsentedTo(ctx, []int64{orgA.ID}, now, 0, 0)
	wantKind(t, err, apperr.Invalid, "zero limit")

	// Many organizations (more than fit one statement) still merge in order.
	var many []int64
	var manyWant []int64
	for i := range 70 {
		o := newOrg(t, b, "many", 0)
		many = append(many, o.ID)
		if i%10 == 0 {
			p := patient("many" + string(rune('a'+i/10)))
			consent(p, o, nil)
			manyWant = append(manyWant, p.ID)
		}
	}
	slices.Reverse(many)
	got, err = b.Directory.PatientsConsentedTo(ctx, many, now, 0, 5)
	must(t, err, "many orgs")
	mustEqual(t, got, manyWant[:5], "many organizations, first page")
}

func testToUs(t *testing.T, b Backend) {
	ctx := t.Context()
	org := newOrg(t, b, "Clinic", 0)
	u := newUser(t, b, "u@example.org")
	first := directory.ToU{UserID: u.ID, Type: "website terms of use", URL: "https://example.org/tou/1",
		AcceptedAt: micro(base), OrganizationID: org.ID}
	must(t, b.Directory.AddToU(ctx, &first), "first")
	privacy := directory.ToU{UserID: u.ID, Type: "privacy policy", URL: "https://example.org/privacy",
		AcceptedAt: micro(base.Add(time.Minute)), OrganizationID: org.ID}
	must(t, b.Directory.AddToU(ctx, &privacy), "privacy")
	second := directory.ToU{UserID: u.ID, Type: "website terms of use", URL: "https://example.org/tou/2",
		AcceptedAt: micro(base.Add(time.Hour))}
	must(t, b.Directory.AddToU(ctx, &second), "second")
	if !first.Active || !second.Active || first.ID == 0 || second.ID == 0 {
		t.Fatalf("AddToU did not set ID and Active: %+v %+v", first, second)
	}
	first.Active = false // replaced by second
	got, err := b.Directory.ToUs(ctx, u.ID)
	must(t, err, "list")
	mustEqual(t, got, []directory.ToU{second, privacy, first}, "ToUs newest first, earlier of a type inactive")
	wantKind(t, b.Directory.AddToU(ctx, &directory.ToU{UserID: 99999, Type: "x", AcceptedAt: base}), apperr.Invalid, "ToU of an unknown user")
}

func testSharedIntervention(t *testing.T, b Backend) {
	ctx := t.Context()
	staff := newUser(t, b, "staff@example.org", directory.RoleInterventionStaff)
	p1 := newUser(t, b, "p1@example.org", directory.RolePatient)
	p2 := newUser(t, b, "p2@example.org", directory.RolePatient)
	must(t, b.EnrollIntervention(ctx, staff.ID, "care_plan"), "enroll staff")
	must(t, b.EnrollIntervention(ctx, p1.ID, "care_plan"), "enroll p1")
	must(t, b.EnrollIntervention(ctx, p2.ID, "symptom_tracker"), "enroll p2")
	// p3 has a row for care_plan, but it forbids access: not shared.
	p3 := newUser(t, b, "p3@example.org", directory.RolePatient)
	must(t, b.EnrollIntervention(ctx, p3.ID, "care_plan"), "enroll p3")
	must(t, b.Interventions.PutUserIntervention(ctx, &intervention.UserIntervention{Intervention: "care_plan",
		UserID: p3.ID, Access: intervention.AccessForbidden, UpdatedAt: base}), "forbid p3")
	for _, tc := range []struct {
		name string
		a, b int64
		want bool
	}{
		{"shared", staff.ID, p1.ID, true},
		{"shared, reversed", p1.ID, staff.ID, true},
		{"different interventions", staff.ID, p2.ID, false},
		{"the patient's row forbids", staff.ID, p3.ID, false},
		{"the staff's row forbids", p3.ID, p1.ID, false},
		{"unknown user", staff.ID, 99999, false},
	} {
		got, err := b.Directory.SharedIntervention(ctx, tc.a, tc.b)
		must(t, err, tc.name)
		if got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
