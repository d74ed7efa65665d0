package scope

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestAllows(t *testing.T) {
	tests := []struct {
		name    string
		granted string
		ctx     Context
		typ     string
		perm    Perm
		want    bool
	}{
		{"exact read", "patient/Observation.rs", ContextPatient, "Observation", PermRead, true},
		{"exact create denied", "patient/Observation.rs", ContextPatient, "Observation", PermCreate, false},
		{"read+search together", "patient/Observation.rs", ContextPatient, "Observation", PermRead | PermSearch, true},
		{"read+update denied when update missing", "patient/Observation.rs", ContextPatient, "Observation", PermRead | PermUpdate, false},
		{"perms from two scopes combine", "patient/Observation.r patient/Observation.s", ContextPatient, "Observation", PermRead | PermSearch, true},
		{"two scopes still miss delete", "patient/Observation.r patient/Observation.s", ContextPatient, "Observation", PermDelete, false},
		{"other type denied", "patient/Observation.rs", ContextPatient, "Condition", PermRead, false},
		{"granted wildcard allows any type", "patient/*.rs", ContextPatient, "Condition", PermRead, true},
		{"granted wildcard keeps its perms", "patient/*.rs", ContextPatient, "Condition", PermUpdate, false},
		{"asking for all types needs a granted wildcard", "patient/*.rs", ContextPatient, "*", PermRead, true},
		{"specific grants never add up to a wildcard", "patient/Observation.rs patient/Condition.rs", ContextPatient, "*", PermRead, false},
		{"same context", "user/Observation.rs", ContextUser, "Observation", PermRead, true},
		{"other context denied", "user/Observation.rs", ContextPatient, "Observation", PermRead, false},
		{"system context", "system/Patient.rs", ContextSystem, "Patient", PermSearch, true},
		{"system does not give patient context", "system/*.cruds", ContextPatient, "Patient", PermRead, false},
		{"v1 write allows update", "patient/Observation.write", ContextPatient, "Observation", PermUpdate, true},
		{"v1 write does not allow read", "patient/Observation.write", ContextPatient, "Observation", PermRead, false},
		{"unrestricted beside restricted", "patient/Observation.rs?category=laboratory patient/Observation.rs", ContextPatient, "Observation", PermRead, true},
		{"query-restricted grant is not unconditional", "patient/Observation.rs?category=laboratory", ContextPatient, "Observation", PermRead, false},
		{"operation scope gives no read", "system/*.$export", ContextSystem, "Patient", PermRead, false},
		{"perm zero never allowed", "patient/*.cruds", ContextPatient, "Observation", 0, false},
		{"unknown perm bits never allowed", "patient/*.cruds", ContextPatient, "Observation", PermAll | 1<<6, false},
		{"empty type never allowed", "patient/*.cruds", ContextPatient, "", PermRead, false},
		{"nothing granted", "openid fhirUser", ContextPatient, "Patient", PermRead, false},
		{"resource types are case sensitive", "patient/Observation.rs", ContextPatient, "observation", PermRead, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Allows(mustList(t, tc.granted), tc.ctx, tc.typ, tc.perm); got != tc.want {
				t.Errorf("Allows(%q, %s, %s, %s) = %v, want %v", tc.granted, tc.ctx, tc.typ, tc.perm, got, tc.want)
			}
		})
	}
}

func TestAllowsIgnoresZeroScope(t *testing.T) {
	handmade := []Scope{{Kind: KindResource, Context: ContextPatient, ResourceType: "*"}}
	if Allows(handmade, ContextPatient, "Observation", PermRead) {
		t.Error("a scope with no permissions must allow nothing")
	}
}

func TestRestrictions(t *testing.T) {
	lab := url.Values{"category": {"laboratory"}}
	vitals := url.Values{"category": {"vital-signs"}}
	tests := []struct {
		name    string
		granted string
		perm    Perm
		want    []url.Values
		ok      bool
	}{
		{"unrestricted", "patient/Observation.rs", PermRead, nil, true},
		{"unrestricted wins over restricted", "patient/Observation.rs?category=laboratory patient/*.r", PermRead, nil, true},
		{"one restriction", "patient/Observation.rs?category=laboratory", PermSearch, []url.Values{lab}, true},
		{"restrictions are alternatives", "patient/Observation.rs?category=laboratory patient/Observation.s?category=vital-signs", PermSearch, []url.Values{lab, vitals}, true},
		{"restricted grant lacks the permission", "patient/Observation.rs?category=laboratory", PermUpdate, nil, false},
		{"other type", "patient/Condition.rs?category=laboratory", PermRead, nil, false},
		{"several permissions at once refused", "patient/Observation.rs", PermRead | PermSearch, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Restrictions(mustList(t, tc.granted), ContextPatient, "Observation", tc.perm)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !slices.EqualFunc(got, tc.want, func(a, b url.Values) bool { return encodeQuery(a) == encodeQuery(b) }) {
				t.Errorf("filters = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAllowsOperation(t *testing.T) {
	tests := []struct {
		name    string
		granted string
		typ     string
		op      string
		want    bool
	}{
		{"wildcard export allows system export", "system/*.$export", "*", OpExport, true},
		{"wildcard export allows group export", "system/*.$export", "Group", OpExport, true},
		{"group export allows group export", "system/Group.$export", "Group", OpExport, true},
		{"group export denies patient export", "system/Group.$export", "Patient", OpExport, false},
		{"patient export denies system-wide export", "system/Patient.$export", "*", OpExport, false},
		{"export does not allow status", "system/*.$export", "*", OpBulkDataStatus, false},
		{"status allows status", "system/*.$bulkdata-status", "*", OpBulkDataStatus, true},
		{"read-all does not allow export", "system/*.cruds", "Patient", OpExport, false},
		{"patient context does not give system export", "patient/*.$export", "Patient", OpExport, false},
		{"empty op never allowed", "system/*.cruds", "Patient", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AllowsOperation(mustList(t, tc.granted), ContextSystem, tc.typ, tc.op); got != tc.want {
				t.Errorf("AllowsOperation(%q, %s, %s) = %v, want %v", tc.granted, tc.typ, tc.op, got, tc.want)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"patient/*.cruds", "patient/Observation.rs", true},
		{"patient/Observation.rs", "patient/*.rs", false},
		{"patient/Observation.rs", "patient/Observation.r", true},
		{"patient/Observation.r", "patient/Observation.rs", false},
		{"patient/Observation.rs", "patient/Observation.rs?category=laboratory", true},
		{"patient/Observation.rs?category=laboratory", "patient/Observation.rs", false},
		{"patient/Observation.rs?category=laboratory", "patient/Observation.r?category=laboratory&status=final", true},
		{"patient/Observation.rs?category=laboratory", "patient/Observation.r?category=vital-signs", false},
		{"user/*.cruds", "patient/Observation.r", false},
		{"system/*.$export", "system/Group.$export", true},
		{"system/Group.$export", "system/*.$export", false},
		{"system/*.$export", "system/*.$bulkdata-status", false},
		{"system/*.cruds", "system/*.$export", false},
		{"system/*.$export", "system/Patient.r", false},
		{"launch", "launch", true},
		{"launch", "launch/patient", false},
		{"openid", "fhirUser", false},
		{"offline_access", "offline_access", true},
		{"offline_access", "online_access", false},
		{"openid", "patient/*.rs", false},
	}
	for _, tc := range tests {
		if got := Covers(mustParse(t, tc.a), mustParse(t, tc.b)); got != tc.want {
			t.Errorf("Covers(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if Covers(Scope{}, Scope{}) {
		t.Error("the zero Scope must cover nothing")
	}
}

func TestNarrow(t *testing.T) {
	tests := []struct {
		name       string
		requested  string
		registered string
		granted    string
		rejected   []string
	}{
		{
			name:       "wildcard request is cut to the registered type",
			requested:  "patient/*.rs",
			registered: "patient/Observation.rs",
			granted:    "patient/Observation.rs",
		},
		{
			name:       "specific request under a registered wildcard is granted as asked",
			requested:  "patient/Observation.rs",
			registered: "patient/*.cruds",
			granted:    "patient/Observation.rs",
		},
		{
			name:       "registered wildcard granted only when asked",
			requested:  "patient/*.rs",
			registered: "patient/*.cruds",
			granted:    "patient/*.rs",
		},
		{
			name:       "wildcard request spreads over each registered type",
			requested:  "patient/*.rs",
			registered: "patient/Observation.rs patient/Condition.r user/Patient.rs",
			granted:    "patient/Observation.rs patient/Condition.r",
		},
		{
			name:       "permissions are intersected",
			requested:  "patient/Observation.cruds",
			registered: "patient/Observation.rs",
			granted:    "patient/Observation.rs",
		},
		{
			name:       "no common permission rejects",
			requested:  "patient/Observation.cud",
			registered: "patient/Observation.rs",
			rejected:   []string{"patient/Observation.cud"},
		},
		{
			name:       "other context rejected",
			requested:  "user/Observation.rs",
			registered: "patient/Observation.rs",
			rejected:   []string{"user/Observation.rs"},
		},
		{
			name:       "unregistered type rejected",
			requested:  "patient/Condition.rs",
			registered: "patient/Observation.rs",
			rejected:   []string{"patient/Condition.rs"},
		},
		{
			name:       "registered restriction is kept",
			requested:  "patient/Observation.rs",
			registered: "patient/Observation.rs?category=laboratory",
			granted:    "patient/Observation.rs?category=laboratory",
		},
		{
			name:       "restrictions combine",
			requested:  "patient/Observation.rs?status=final",
			registered: "patient/Observation.rs?category=laboratory",
			granted:    "patient/Observation.rs?category=laboratory&status=final",
		},
		{
			name:       "conflicting restrictions reject",
			requested:  "patient/Observation.rs?category=vital-signs",
			registered: "patient/Observation.rs?category=laboratory",
			rejected:   []string{"patient/Observation.rs?category=vital-signs"},
		},
		{
			name:       "identity and launch scopes need exact registration",
			requested:  "openid fhirUser launch/patient offline_access",
			registered: "openid launch offline_access",
			granted:    "openid offline_access",
			rejected:   []string{"fhirUser", "launch/patient"},
		},
		{
			name:       "v1 request against v2 registration keeps the request's text",
			requested:  "patient/Observation.read",
			registered: "patient/Observation.rs",
			granted:    "patient/Observation.rs",
		},
		{
			name:       "bulk export under a registered wildcard export",
			requested:  "system/Group.$export system/*.$bulkdata-status system/Document.read",
			registered: "system/*.$export system/*.$bulkdata-status system/Document.read",
			granted:    "system/Group.$export system/*.$bulkdata-status system/Document.rs",
		},
		{
			name:       "wildcard export request cut to the registered group export",
			requested:  "system/*.$export",
			registered: "system/Group.$export",
			granted:    "system/Group.$export",
		},
		{
			name:       "read scopes never grant export",
			requested:  "system/*.$export",
			registered: "system/*.cruds",
			rejected:   []string{"system/*.$export"},
		},
		{
			name:       "export never grants read",
			requested:  "system/Patient.rs",
			registered: "system/*.$export",
			rejected:   []string{"system/Patient.rs"},
		},
		{
			name:       "duplicates collapse",
			requested:  "patient/*.rs patient/Observation.rs",
			registered: "patient/Observation.rs",
			granted:    "patient/Observation.rs",
		},
		{
			name:       "nothing registered",
			requested:  "patient/*.rs openid",
			registered: "",
			rejected:   []string{"patient/*.rs", "openid"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requested := mustList(t, tc.requested)
			granted, rejected := Narrow(requested, mustList(t, tc.registered))
			if got := Join(granted); got != tc.granted {
				t.Errorf("granted = %q, want %q", got, tc.granted)
			}
			if !slices.Equal(rejected, tc.rejected) {
				t.Errorf("rejected = %q, want %q", rejected, tc.rejected)
			}
		})
	}
}

// TestNarrowNeverWidens checks Narrow's promise over every pairing of a set
// of scopes: each granted scope is covered by something registered and by
// something requested, and each requested scope is granted or rejected.
func TestNarrowNeverWidens(t *testing.T) {
	pool := mustList(t, "patient/*.rs patient/*.cruds patient/Observation.r patient/Observation.rs patient/Observation.cud "+
		"patient/Observation.rs?category=laboratory patient/Observation.s?category=laboratory&status=final "+
		"patient/Observation.rs?category=vital-signs patient/Condition.rs user/*.rs user/Observation.rs "+
		"system/*.$export system/Group.$export system/*.$bulkdata-status system/*.rs system/Document.rs "+
		"openid fhirUser launch launch/patient offline_access")
	for i := range pool {
		for j := range pool {
			for k := range pool {
				requested := []Scope{pool[i], pool[j]}
				registered := []Scope{pool[k], pool[(k+i)%len(pool)]}
				granted, rejected := Narrow(requested, registered)
				for _, g := range granted {
					if !slices.ContainsFunc(registered, func(r Scope) bool { return Covers(r, g) }) {
						t.Fatalf("Narrow(%s | %s) granted %s, not covered by registration", Join(requested), Join(registered), g)
					}
					if !slices.ContainsFunc(requested, func(r Scope) bool { return Covers(r, g) }) {
						t.Fatalf("Narrow(%s | %s) granted %s, not covered by request", Join(requested), Join(registered), g)
					}
					if back, err := Parse(g.String()); err != nil || !back.Equal(g) {
						t.Fatalf("granted %s does not parse back: %v", g, err)
					}
				}
				for _, r := range requested {
					isRejected := slices.Contains(rejected, r.Raw)
					gotSome := slices.ContainsFunc(granted, func(g Scope) bool { return Covers(r, g) })
					if isRejected == gotSome {
						t.Fatalf("Narrow(%s | %s): %s rejected=%v but granted part=%v", Join(requested), Join(registered), r, isRejected, gotSome)
					}
				}
			}
		}
	}
}

// Task action scopes (seed 002): each grants its action only; no cruds or
// wildcard scope implies one, and one action never implies another.
func TestTaskActionScopes(t *testing.T) {
	for _, in := range []string{"system/Task.certify", "user/Task.validate", "system/Task.reject"} {
		sc := mustParse(t, in)
		if sc.Action == "" || sc.Perms != 0 || sc.String() != in {
			t.Errorf("Parse(%q) = %+v (%s)", in, sc, sc.String())
		}
	}
	for _, bad := range []string{"system/Patient.certify", "system/*.certify", "patient/Task.certify",
		"system/Task.certify?status=requested", "system/Task.approve"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	certify := mustList(t, "system/Task.certify")
	if !AllowsAction(certify, ContextSystem, "certify") {
		t.Error("system/Task.certify does not allow certify")
	}
	if AllowsAction(certify, ContextSystem, "issue") || AllowsAction(certify, ContextUser, "certify") {
		t.Error("system/Task.certify allows another action or context")
	}
	if Allows(certify, ContextSystem, "Task", PermRead) || Allows(certify, ContextSystem, "Task", PermUpdate) {
		t.Error("an action scope allows read or update")
	}
	for _, wide := range []string{"system/Task.cruds", "system/*.cruds", "system/Task.write", "system/*.*", "system/Task.register"} {
		if AllowsAction(mustList(t, wide), ContextSystem, "certify") {
			t.Errorf("%s allows certify", wide)
		}
		if Covers(mustParse(t, wide), mustParse(t, "system/Task.certify")) {
			t.Errorf("%s covers system/Task.certify", wide)
		}
	}
	if !Covers(mustParse(t, "system/Task.certify"), mustParse(t, "system/Task.certify")) {
		t.Error("an action scope does not cover itself")
	}
	got, rejected := Narrow(mustList(t, "system/Task.certify system/Task.issue system/Task.rs"),
		mustList(t, "system/Task.certify system/*.cruds"))
	if Join(got) != "system/Task.certify system/Task.rs" || len(rejected) != 1 || rejected[0] != "system/Task.issue" {
		t.Errorf("Narrow: granted %q rejected %v", Join(got), rejected)
	}
	if d := Describe(mustParse(t, "system/Task.certify")); !strings.Contains(d, "ertify") {
		t.Errorf("Describe: %q", d)
	}
}
