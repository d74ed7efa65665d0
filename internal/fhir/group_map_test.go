package fhir_test

import (
	"encoding/json"
	"testing"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/testutil"
)

func TestGroupIDs(t *testing.T) {
	for _, ref := range []directory.GroupRef{
		{Kind: directory.GroupOrganization, ID: 5},
		{Kind: directory.GroupPractitioner, ID: 1234567890123},
	} {
		id := fhir.GroupID(ref)
		back, err := fhir.ParseGroupID(id)
		if err != nil || back != ref {
			t.Fatalf("%v -> %q -> %v, %v", ref, id, back, err)
		}
	}
	if got := fhir.GroupID(directory.GroupRef{Kind: directory.GroupOrganization, ID: 5}); got != "org-5" {
		t.Fatalf("org group id %q", got)
	}
	if got := fhir.GroupID(directory.GroupRef{Kind: directory.GroupPractitioner, ID: 9}); got != "practitioner-9" {
		t.Fatalf("practitioner group id %q", got)
	}
	for _, bad := range []string{"", "5", "org-", "org-0", "org--1", "org-05", "org-5x", "org-+5",
		"team-5", "Org-5", "practitioner-", "practitioner-99999999999999999999", "org-5 "} {
		if _, err := fhir.ParseGroupID(bad); apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("ParseGroupID(%q) = %v, want Invalid", bad, err)
		}
	}
}

func TestGroupFor(t *testing.T) {
	tests := []struct {
		name    string
		ref     directory.GroupRef
		members []int64
		entity  string
	}{
		{"organization with members", directory.GroupRef{Kind: directory.GroupOrganization, ID: 5}, []int64{42, 43}, "Organization/5"},
		{"practitioner with members", directory.GroupRef{Kind: directory.GroupPractitioner, ID: 9}, []int64{42}, "Practitioner/9"},
		{"searchset entry without members", directory.GroupRef{Kind: directory.GroupOrganization, ID: 6}, nil, "Organization/6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := fhir.GroupFor(tc.ref, "Clinic A", 2, tc.members, "")
			testutil.ValidateFHIR(t, g)
			data, err := json.Marshal(g)
			if err != nil {
				t.Fatal(err)
			}
			back, err := fhir.DecodeGroup(data)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID != fhir.GroupID(tc.ref) || back.Type != "person" || !back.Actual || back.Name != "Clinic A" {
				t.Fatalf("group %s", data)
			}
			if back.Quantity == nil || *back.Quantity != 2 {
				t.Fatalf("quantity %v, want 2", back.Quantity)
			}
			if back.ManagingEntity == nil || back.ManagingEntity.Reference != tc.entity {
				t.Fatalf("managingEntity %+v, want %s", back.ManagingEntity, tc.entity)
			}
			if len(back.Characteristic) != 1 || back.Characteristic[0].ValueReference.Reference != tc.entity ||
				back.Characteristic[0].Exclude {
				t.Fatalf("characteristic %+v", back.Characteristic)
			}
			if len(back.Member) != len(tc.members) {
				t.Fatalf("members %+v, want %v", back.Member, tc.members)
			}
			for i, id := range tc.members {
				if want := "Patient/" + formatInt(id); back.Member[i].Entity.Reference != want {
					t.Fatalf("member %d = %q, want %q", i, back.Member[i].Entity.Reference, want)
				}
			}
		})
	}
	g := fhir.GroupFor(directory.GroupRef{Kind: directory.GroupPractitioner, ID: 9}, "Greta Gold", 0, nil, "https://ward.example.org/fhir")
	testutil.ValidateFHIR(t, g)
	if g.ManagingEntity.Reference != "https://ward.example.org/fhir/Practitioner/9" || *g.Quantity != 0 {
		t.Fatalf("absolute, empty group: %+v", g)
	}
}

func formatInt(v int64) string { b, _ := json.Marshal(v); return string(b) }

// FuzzParseGroupID: a Group id comes from the URL. Whatever it is, parsing
// does not panic, and an accepted id is exactly the canonical one GroupID
// writes for what it parsed to.
func FuzzParseGroupID(f *testing.F) {
	for _, s := range []string{"org-1", "practitioner-42", "org-0", "org-01", "practitioner--3", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := fhir.ParseGroupID(s)
		if err != nil {
			if apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("ParseGroupID(%q): %v, want Invalid", s, err)
			}
			return
		}
		if ref.ID <= 0 || fhir.GroupID(ref) != s {
			t.Fatalf("ParseGroupID(%q) = %+v, which writes back as %q", s, ref, fhir.GroupID(ref))
		}
	})
}
