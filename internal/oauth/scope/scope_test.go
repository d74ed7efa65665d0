package scope

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"ward/internal/apperr"
)

func mustParse(t *testing.T, s string) Scope {
	t.Helper()
	sc, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return sc
}

func mustList(t *testing.T, s string) []Scope {
	t.Helper()
	l, err := ParseList(s)
	if err != nil {
		t.Fatalf("ParseList(%q): %v", s, err)
	}
	return l
}

func TestParseValid(t *testing.T) {
	const labCat = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
	tests := []struct {
		in   string
		want Scope
		str  string // canonical form
	}{
		// v2
		{"patient/Observation.rs", Scope{Kind: KindResource, Context: ContextPatient, ResourceType: "Observation", Perms: PermRead | PermSearch}, "patient/Observation.rs"},
		{"user/*.cruds", Scope{Kind: KindResource, Context: ContextUser, ResourceType: "*", Perms: PermAll}, "user/*.cruds"},
		{"system/Patient.r", Scope{Kind: KindResource, Context: ContextSystem, ResourceType: "Patient", Perms: PermRead}, "system/Patient.r"},
		{"patient/Condition.cd", Scope{Kind: KindResource, Context: ContextPatient, ResourceType: "Condition", Perms: PermCreate | PermDelete}, "patient/Condition.cd"},
		{"user/Encounter.s", Scope{Kind: KindResource, Context: ContextUser, ResourceType: "Encounter", Perms: PermSearch}, "user/Encounter.s"},
		// v1
		{"patient/Observation.read", Scope{Kind: KindResource, Context: ContextPatient, ResourceType: "Observation", Perms: PermRead | PermSearch}, "patient/Observation.rs"},
		{"patient/Observation.write", Scope{Kind: KindResource, Context: ContextPatient, ResourceType: "Observation", Perms: PermCreate | PermUpdate | PermDelete}, "patient/Observation.cud"},
		{"user/*.*", Scope{Kind: KindResource, Context: ContextUser, ResourceType: "*", Perms: PermAll}, "user/*.cruds"},
		{"patient/*.read", Scope{Kind: KindResource, Context: ContextPatient, ResourceType: "*", Perms: PermRead | PermSearch}, "patient/*.rs"},
		{"system/Document.read", Scope{Kind: KindResource, Context: ContextSystem, ResourceType: "Document", Perms: PermRead | PermSearch}, "system/Document.rs"},
		// v2 with query restriction, kept decoded and re-encoded canonically
		{"patient/Observation.rs?category=" + labCat,
			Scope{Kind: KindResource, Context: ContextPatient, ResourceType: "Observation", Perms: PermRead | PermSearch, Query: url.Values{"category": {labCat}}},
			"patient/Observation.rs?category=" + labCat},
		{"patient/Observation.rs?status=final&category=vital-signs",
			Scope{Kind: KindResource, Context: ContextPatient, ResourceType: "Observation", Perms: PermRead | PermSearch, Query: url.Values{"status": {"final"}, "category": {"vital-signs"}}},
			"patient/Observation.rs?category=vital-signs&status=final"},
		{"user/Observation.s?code:text=blood+pressure",
			Scope{Kind: KindResource, Context: ContextUser, ResourceType: "Observation", Perms: PermSearch, Query: url.Values{"code:text": {"blood pressure"}}},
			"user/Observation.s?code:text=blood%20pressure"},
		{"patient/Observation.rs?category=a%26b",
			Scope{Kind: KindResource, Context: ContextPatient, ResourceType: "Observation", Perms: PermRead | PermSearch, Query: url.Values{"category": {"a&b"}}},
			"patient/Observation.rs?category=a%26b"},
		// operations (seed 004 bulk scopes)
		{"system/*.$export", Scope{Kind: KindResource, Context: ContextSystem, ResourceType: "*", Operation: OpExport}, "system/*.$export"},
		{"system/Patient.$export", Scope{Kind: KindResource, Context: ContextSystem, ResourceType: "Patient", Operation: OpExport}, "system/Patient.$export"},
		{"system/Group.$export", Scope{Kind: KindResource, Context: ContextSystem, ResourceType: "Group", Operation: OpExport}, "system/Group.$export"},
		{"system/*.$bulkdata-status", Scope{Kind: KindResource, Context: ContextSystem, ResourceType: "*", Operation: OpBulkDataStatus}, "system/*.$bulkdata-status"},
		// launch, identity, others
		{"launch", Scope{Kind: KindLaunch, Name: "launch"}, "launch"},
		{"launch/patient", Scope{Kind: KindLaunch, Name: "launch/patient", LaunchContext: "patient"}, "launch/patient"},
		{"launch/encounter", Scope{Kind: KindLaunch, Name: "launch/encounter", LaunchContext: "encounter"}, "launch/encounter"},
		{"openid", Scope{Kind: KindOpenID, Name: "openid"}, "openid"},
		{"fhirUser", Scope{Kind: KindOpenID, Name: "fhirUser"}, "fhirUser"},
		{"profile", Scope{Kind: KindOpenID, Name: "profile"}, "profile"},
		{"offline_access", Scope{Kind: KindOther, Name: "offline_access"}, "offline_access"},
		{"online_access", Scope{Kind: KindOther, Name: "online_access"}, "online_access"},
		{"record.register", Scope{Kind: KindOther, Name: "record.register"}, "record.register"},
		{"https://example.org/scopes/read", Scope{Kind: KindOther, Name: "https://example.org/scopes/read"}, "https://example.org/scopes/read"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := mustParse(t, tc.in)
			if !got.Equal(tc.want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if got.Raw != tc.in {
				t.Errorf("Raw = %q, want %q", got.Raw, tc.in)
			}
			if s := got.String(); s != tc.str {
				t.Errorf("String() = %q, want %q", s, tc.str)
			}
			back := mustParse(t, got.String())
			if !back.Equal(got) {
				t.Errorf("Parse(String()) = %+v, want %+v", back, got)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in   string
		part string
	}{
		{"", "scope"},
		{"patient/.rs", "resource type"},
		{"patient/Observation.xyz", "permissions"},
		{"patient/Nonsense.rs", "resource type"},     // not an R4 type
		{"patient/Observation.sr", "permissions"},    // wrong order
		{"patient/Observation.rrs", "permissions"},   // repeated letter
		{"patient/Observation.", "permissions"},      // empty permissions
		{"patient/Observation", "scope"},             // no dot
		{"patient/Observation.READ", "permissions"},  // v1 words are lower case
		{"patient/observation.rs", "resource type"},  // type must start with a capital
		{"patient/Obs-ervation.rs", "resource type"}, // not a type name
		{"patient/Observation.rs.x", "permissions"},  // trailing junk
		{"practitioner/Observation.rs", "context"},   // unknown context
		{"Patient/Observation.rs", "context"},        // contexts are lower case
		{"group/*.$export", "context"},               // unknown context on an operation
		{"patient/Observation.read?category=x", "query"},
		{"patient/Observation.rs?", "query"},
		{"patient/Observation.rs?category", "query"},  // no value
		{"patient/Observation.rs?category=", "query"}, // empty value
		{"patient/Observation.rs?=lab", "query"},      // no name
		{"patient/Observation.rs?a=1;b=2", "query"},   // semicolon separator
		{"patient/Observation.rs?a=%zz", "query"},     // bad escape
		{"patient/Observation.rs?a=%00", "query"},     // control character
		{"patient/Observation.rs?a=%ff", "query"},     // not UTF-8
		{"patient/Observation.rs?na%20me=1", "query"}, // bad name
		{"system/*.$", "operation"},
		{"system/*.$1export", "operation"},
		{"system/*.$export?_type=Patient", "query"},
		{"launch/", "launch context"},
		{"launch/Patient", "launch context"},
		{"launch/patient?role=x", "launch context"},
		{"openid\tprofile", "scope"},
		{"caf\u00e9", "scope"},
		{`"quoted"`, "scope"},
		{strings.Repeat("a", MaxScopeLen+1), "scope"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			sc, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error", tc.in, sc)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.Part != tc.part {
				t.Errorf("Part = %q, want %q (%v)", pe.Part, tc.part, err)
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("error kind = %v, want invalid", apperr.KindOf(err))
			}
			if pe.Part != "scope" && !strings.Contains(err.Error(), pe.Value) {
				t.Errorf("message %q does not name the bad part %q", err, pe.Value)
			}
		})
	}
}

func TestV1V2Equivalence(t *testing.T) {
	pairs := []struct{ v1, v2 string }{
		{"patient/Observation.read", "patient/Observation.rs"},
		{"patient/Observation.write", "patient/Observation.cud"},
		{"patient/Observation.*", "patient/Observation.cruds"},
		{"user/*.read", "user/*.rs"},
		{"system/*.*", "system/*.cruds"},
	}
	for _, p := range pairs {
		a, b := mustParse(t, p.v1), mustParse(t, p.v2)
		if !a.Equal(b) {
			t.Errorf("%s and %s should be equal: %+v vs %+v", p.v1, p.v2, a, b)
		}
		if !Covers(a, b) || !Covers(b, a) {
			t.Errorf("%s and %s should cover each other", p.v1, p.v2)
		}
	}
	// Not equivalent: v1 read is not v2 r alone, write is not cruds.
	notEq := []struct{ a, b string }{
		{"patient/Observation.read", "patient/Observation.r"},
		{"patient/Observation.write", "patient/Observation.cruds"},
		{"patient/Observation.read", "user/Observation.read"},
		{"patient/Observation.rs", "patient/Observation.rs?category=laboratory"},
	}
	for _, p := range notEq {
		if mustParse(t, p.a).Equal(mustParse(t, p.b)) {
			t.Errorf("%s and %s should differ", p.a, p.b)
		}
	}
}

func TestParseList(t *testing.T) {
	got := mustList(t, "openid  fhirUser launch/patient patient/Observation.read patient/Observation.rs offline_access")
	if s := Join(got); s != "openid fhirUser launch/patient patient/Observation.rs offline_access" {
		t.Errorf("Join = %q", s)
	}
	if got[3].Raw != "patient/Observation.read" {
		t.Errorf("first spelling should win, Raw = %q", got[3].Raw)
	}
	if !Contains(got, OfflineAccess) || Contains(got, OnlineAccess) {
		t.Errorf("Contains: offline_access should be present, online_access absent")
	}

	empty := mustList(t, "")
	if len(empty) != 0 {
		t.Errorf("ParseList(\"\") = %v, want none", empty)
	}

	_, err := ParseList("openid patient/Obs.xyz practitioner/Observation.rs")
	if err == nil {
		t.Fatal("want error")
	}
	if !apperr.Is(err, apperr.Invalid) {
		t.Errorf("kind = %v, want invalid", apperr.KindOf(err))
	}
	for _, bad := range []string{"patient/Obs.xyz", "practitioner/Observation.rs"} {
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("error %q should name %q", err, bad)
		}
	}

	if _, err := ParseList(strings.Repeat("openid ", MaxListCount+1)); err != nil {
		t.Errorf("duplicates count once: %v", err)
	}
	many := make([]string, MaxListCount+1)
	for i := range many {
		many[i] = "x" + strings.Repeat("a", i%50) + string(rune('a'+i%26))
	}
	if _, err := ParseList(strings.Join(many, " ")); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("too many scopes: err = %v, want invalid", err)
	}
	if _, err := ParseList(strings.Repeat("a", MaxListLen+1)); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("too long: err = %v, want invalid", err)
	}
}

func TestPermString(t *testing.T) {
	tests := []struct {
		p    Perm
		want string
	}{
		{0, ""},
		{PermAll, "cruds"},
		{PermSearch | PermRead, "rs"},
		{PermDelete | PermCreate, "cd"},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("Perm(%d).String() = %q, want %q", tc.p, got, tc.want)
		}
	}
}
