package directory

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	// 1 health system
	// ├── 2 clinic A
	// │   └── 4 clinic A1
	// └── 3 clinic B (sibling of A)
	tree, err := NewOrgTree([]OrgEdge{{1, 0}, {2, 1}, {3, 1}, {4, 2}})
	if err != nil {
		t.Fatal(err)
	}
	consent := func(org int64, mods ...func(*Consent)) Consent {
		c := Consent{OrganizationID: org, Status: ConsentConsented, StaffEditable: true,
			AcceptanceDate: now.AddDate(-1, 0, 0), ExpiresAt: now.AddDate(4, 0, 0)}
		for _, m := range mods {
			m(&c)
		}
		return c
	}
	notEditable := func(c *Consent) { c.StaffEditable = false }
	expired := func(c *Consent) { c.ExpiresAt = now.Add(-time.Second) }
	suspended := func(c *Consent) { c.Status = ConsentSuspended }
	deleted := func(c *Consent) { at := now.AddDate(0, -1, 0); c.DeletedAt = &at; c.Status = ConsentDeleted }

	party := func(id int64, roles []string, orgs []int64, cs ...Consent) Party {
		return Party{ID: id, Roles: roles, Orgs: orgs, Consents: cs}
	}
	roles := func(r ...string) []string { return r }
	orgs := func(o ...int64) []int64 { return o }

	staffA := party(10, roles(RoleStaff), orgs(2))
	staffB := party(11, roles(RoleStaff), orgs(3))
	clinicianA := party(12, roles(RoleClinician), orgs(2))
	staffAdminA := party(13, roles(RoleStaffAdmin), orgs(2))
	admin := party(14, roles(RoleAdmin), nil)
	service := party(15, roles(RoleService), nil)
	ivStaff := party(16, roles(RoleInterventionStaff), nil)
	patientA1 := party(20, roles(RolePatient), orgs(4), consent(4))
	otherPatient := party(21, roles(RolePatient), orgs(4), consent(4))
	deletedPatient := patientA1
	deletedPatient.Deleted = true

	tests := []struct {
		name   string
		perm   Permission
		actor  Party
		target Party
		shared bool
		tree   *OrgTree
		want   bool
		rule   string
	}{
		// Rule 2: self.
		{"patient views self", View, patientA1, patientA1, false, tree, true, RuleSelf},
		{"patient views another patient", View, patientA1, otherPatient, false, tree, false, RuleDenied},
		{"patient edits another patient", Edit, patientA1, otherPatient, false, tree, false, RuleDenied},

		// Rule 3: admin and service.
		{"admin edits anyone", Edit, admin, staffB, false, tree, true, RuleAdmin},
		{"service edits anyone", Edit, service, patientA1, false, tree, true, RuleAdmin},
		{"admin views a deleted user", View, admin, deletedPatient, false, tree, true, RuleAdmin},
		{"service views a deleted user", View, service, deletedPatient, false, tree, false, RuleDeleted},
		{"staff views a deleted consented patient", View, staffA, deletedPatient, false, tree, false, RuleDeleted},

		// Rule 4: staff over patients via consents at or below.
		{"staff views patient consented below", View, staffA, patientA1, false, tree, true, RuleStaffConsent},
		{"staff at sibling org views patient", View, staffB, patientA1, false, tree, false, RuleDenied},
		{"staff edits patient with staff-editable consent", Edit, staffA, patientA1, false, tree, true, RuleStaffConsent},
		{"staff edits patient with non-staff-editable consent", Edit, staffA,
			party(20, roles(RolePatient), orgs(4), consent(4, notEditable)), false, tree, false, RuleDenied},
		{"staff views patient with non-staff-editable consent", View, staffA,
			party(20, roles(RolePatient), orgs(4), consent(4, notEditable)), false, tree, true, RuleStaffConsent},
		{"staff views patient with expired consent", View, staffA,
			party(20, roles(RolePatient), orgs(4), consent(4, expired)), false, tree, false, RuleDenied},
		{"staff views patient with suspended consent", View, staffA,
			party(20, roles(RolePatient), orgs(4), consent(4, suspended)), false, tree, false, RuleDenied},
		{"staff views patient with deleted consent", View, staffA,
			party(20, roles(RolePatient), orgs(4), consent(4, deleted)), false, tree, false, RuleDenied},
		{"staff views patient with one valid consent among dead ones", View, staffA,
			party(20, roles(RolePatient), orgs(4), consent(4, expired), consent(2)), false, tree, true, RuleStaffConsent},
		{"staff views patient without consent", View, staffA,
			party(20, roles(RolePatient), orgs(4)), false, tree, false, RuleDenied},
		{"clinician views patient consented below", View, clinicianA, patientA1, false, tree, true, RuleStaffConsent},
		{"staff_admin views patient consented below", View, staffAdminA, patientA1, false, tree, true, RuleStaffConsent},
		{"consent at the staff org's parent is not below", View, staffA,
			party(20, roles(RolePatient), nil, consent(1)), false, tree, false, RuleDenied},
		{"staff views non-patient with consent below", View, staffA,
			party(20, roles(RoleStaff), orgs(4), consent(4)), false, tree, false, RuleDenied},
		{"staff rules need the tree", View, staffA, patientA1, false, nil, false, RuleDenied},

		// Rule 4, second clause: consent above, patient's org in the branch.
		{"consent above, patient org below staff org", View, staffA,
			party(20, roles(RolePatient), orgs(4), consent(1)), false, tree, true, RuleStaffConsentAbove},
		{"consent above, patient org at sibling", View, staffA,
			party(20, roles(RolePatient), orgs(3), consent(1)), false, tree, false, RuleDenied},
		{"consent above, staff-editable, edit", Edit, staffA,
			party(20, roles(RolePatient), orgs(4), consent(1)), false, tree, true, RuleStaffConsentAbove},
		{"consent above, not staff-editable, edit", Edit, staffA,
			party(20, roles(RolePatient), orgs(4), consent(1, notEditable)), false, tree, false, RuleDenied},
		{"consent above but expired", View, staffA,
			party(20, roles(RolePatient), orgs(4), consent(1, expired)), false, tree, false, RuleDenied},

		// Rule 5: staff_admin over staff in the branch.
		{"staff_admin edits staff below", Edit, staffAdminA, party(30, roles(RoleStaff), orgs(4)), false, tree, true, RuleStaffAdmin},
		{"staff_admin edits staff at sibling", Edit, staffAdminA, staffB, false, tree, false, RuleDenied},
		{"staff_admin edits clinician at same org", Edit, staffAdminA, clinicianA, false, tree, true, RuleStaffAdmin},
		{"staff_admin edits staff_admin below", Edit, staffAdminA, party(31, roles(RoleStaffAdmin), orgs(4)), false, tree, true, RuleStaffAdmin},
		{"staff_admin edits staff_admin above", Edit, staffAdminA, party(31, roles(RoleStaffAdmin), orgs(1)), false, tree, false, RuleDenied},
		{"staff_admin edits non-staff below", Edit, staffAdminA, party(32, roles(RoleResearcher), orgs(4)), false, tree, false, RuleDenied},
		{"plain staff edits staff below", Edit, staffA, party(30, roles(RoleStaff), orgs(4)), false, tree, false, RuleDenied},

		// Rule 6: intervention_staff.
		{"intervention_staff with shared intervention", View, ivStaff, patientA1, true, tree, true, RuleInterventionStaff},
		{"intervention_staff without shared intervention", View, ivStaff, patientA1, false, tree, false, RuleDenied},
		{"intervention_staff over non-patient sharing one", View, ivStaff, staffA, true, tree, false, RuleDenied},
		{"shared intervention grants nothing to plain staff", View, staffB, patientA1, true, tree, false, RuleDenied},

		// Rule 7 and odd actors.
		{"user with no roles", View, party(40, nil, orgs(2)), patientA1, false, tree, false, RuleDenied},
		{"client acting for nobody", View, party(0, nil, nil), party(0, nil, nil), false, tree, false, RuleDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.perm, Facts{Actor: tc.actor, Target: tc.target, SharedIntervention: tc.shared, Tree: tc.tree, Now: now})
			if d.Allowed != tc.want || d.Rule != tc.rule {
				t.Errorf("Decide = %+v, want allowed=%v rule=%q", d, tc.want, tc.rule)
			}
		})
	}
}

func TestGrantableRoles(t *testing.T) {
	tests := []struct {
		held  []string
		role  string
		grant bool
	}{
		{[]string{RoleAdmin}, RoleAdmin, true},
		{[]string{RoleStaffAdmin}, RoleStaff, true},
		{[]string{RoleStaffAdmin}, RoleAdmin, false},
		{[]string{RoleStaff}, RolePatient, true},
		{[]string{RoleStaff}, RoleStaff, false},
		{[]string{RoleClinician}, RoleWriteOnly, true},
		{[]string{RoleClinician}, RoleService, false},
		{[]string{RoleService}, RoleClinician, true},
		{[]string{RoleService}, RoleService, false},
		{[]string{RoleService}, RoleStaffAdmin, false},
		{[]string{RoleStaffAdmin}, RoleStaffAdmin, false},
		{[]string{RoleStaffAdmin}, RoleClinician, true},
		{[]string{RoleApplicationDeveloper}, RolePatient, false},
		{[]string{RolePatient}, RolePatient, false},
		{nil, RolePatient, false},
	}
	for _, tc := range tests {
		all, names := GrantableRoles(tc.held)
		got := all
		for _, n := range names {
			got = got || n == tc.role
		}
		if got != tc.grant {
			t.Errorf("holder of %v granting %s: got %v, want %v", tc.held, tc.role, got, tc.grant)
		}
	}
}

// TestDecideCatchment is the catchment limit as a table: allowed and
// denied beside each other.
func TestDecideCatchment(t *testing.T) {
	admin := Party{ID: 1, Roles: []string{RoleAdmin}}
	scopedAdmin := Party{ID: 2, Roles: []string{RoleAdmin}, Catchments: []string{"3026"}}
	patientIn := Party{ID: 10, Roles: []string{RolePatient}, Catchments: []string{"302618"}}
	patientOut := Party{ID: 11, Roles: []string{RolePatient}, Catchments: []string{"302714"}}
	patientNone := Party{ID: 12, Roles: []string{RolePatient}}
	staffer := Party{ID: 13, Roles: []string{RoleStaff}}
	for _, tc := range []struct {
		name          string
		actor, target Party
		want          bool
		rule          string
	}{
		{"scoped admin, patient within", scopedAdmin, patientIn, true, RuleAdmin},
		{"scoped admin, patient outside", scopedAdmin, patientOut, false, RuleCatchment},
		{"scoped admin, patient without catchment", scopedAdmin, patientNone, false, RuleCatchment},
		{"scoped admin, non-patient", scopedAdmin, staffer, true, RuleAdmin},
		{"unscoped admin, patient outside", admin, patientOut, true, RuleAdmin},
		{"scoped self", Party{ID: 10, Roles: []string{RolePatient}, Catchments: []string{"99"}}, patientIn, true, RuleSelf},
		{"scope grants nothing by itself", Party{ID: 3, Catchments: []string{"3026"}}, patientIn, false, RuleDenied},
	} {
		d := Decide(View, Facts{Actor: tc.actor, Target: tc.target})
		if d.Allowed != tc.want || d.Rule != tc.rule {
			t.Errorf("%s: %+v, want allowed=%v rule %q", tc.name, d, tc.want, tc.rule)
		}
	}
}
