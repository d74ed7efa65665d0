package bulk

import (
	"slices"
	"testing"

	"ward/internal/actor"
	"ward/internal/apperr"
)

func client(scopes ...string) actor.Actor { return actor.Actor{ClientID: "c1", Scopes: scopes} }

// Each allowed case sits beside the denied one that differs from it by one
// scope, level or client.
func TestAuthorizeLevel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a     actor.Actor
		level Level
		want  apperr.Kind // -1: allowed
	}{
		{"system with wildcard", client("system/*.$export"), LevelSystem, -1},
		{"system with Patient only", client("system/Patient.$export"), LevelSystem, apperr.Forbidden},
		{"Patient with Patient", client("system/Patient.$export"), LevelPatient, -1},
		{"Patient with Group", client("system/Group.$export"), LevelPatient, apperr.Forbidden},
		{"Patient with wildcard", client("system/*.$export"), LevelPatient, -1},
		{"Group with Group", client("system/Group.$export"), LevelGroup, -1},
		{"Group with Patient", client("system/Patient.$export"), LevelGroup, apperr.Forbidden},
		{"user context", client("user/*.$export"), LevelSystem, apperr.Forbidden},
		{"read scope is no export scope", client("system/*.read"), LevelSystem, apperr.Forbidden},
		{"unparsable scope grants nothing", client("system/*.$export$"), LevelSystem, apperr.Forbidden},
		{"no client", actor.Actor{UserID: 3, Scopes: []string{"system/*.$export"}}, LevelSystem, apperr.Unauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := authorizeLevel(tc.a, tc.level)
			if tc.want == -1 {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			if !apperr.Is(err, tc.want) {
				t.Fatalf("got %v (%v), want %v", apperr.KindOf(err), err, tc.want)
			}
		})
	}
}

func TestAuthorizeTypes(t *testing.T) {
	cands := []string{"Patient", "Organization", "Observation"}
	a := client("system/Patient.read", "system/Observation.rs", "user/Organization.read")
	got, err := authorizeTypes(a, nil, cands, nil)
	if err != nil || !slices.Equal(got, []string{"Patient", "Observation"}) {
		t.Errorf("no _type: %v, %v; want the readable Patient and Observation", got, err)
	}
	if got, err := authorizeTypes(a, []string{"Observation"}, cands, nil); err != nil || !slices.Equal(got, []string{"Observation"}) {
		t.Errorf("readable _type: %v, %v", got, err)
	}
	if _, err := authorizeTypes(a, []string{"Observation", "Organization"}, cands, nil); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("_type readable only with user/: %v, want Forbidden", err)
	}
	if _, err := authorizeTypes(a, nil, cands, []string{"Observation"}); err != nil {
		t.Errorf("readable _typeFilter type: %v", err)
	}
	if _, err := authorizeTypes(a, nil, cands, []string{"Organization"}); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("unreadable _typeFilter type: %v, want Forbidden", err)
	}
	if _, err := authorizeTypes(client("system/*.$export"), nil, cands, nil); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("nothing readable: %v, want Forbidden", err)
	}
	if got, err := authorizeTypes(client("system/*.read"), nil, cands, nil); err != nil || !slices.Equal(got, cands) {
		t.Errorf("wildcard read: %v, %v", got, err)
	}
}

func TestAuthorizeStatusAndOwner(t *testing.T) {
	ex := &Export{ClientID: "c1", Level: LevelGroup}
	for _, tc := range []struct {
		name       string
		a          actor.Actor
		status     apperr.Kind // -1: allowed
		ownerFiles apperr.Kind
	}{
		{"owner with the status scope", client("system/*.$bulkdata-status"), -1, -1},
		{"owner with the level's export scope", client("system/Group.$export"), -1, -1},
		{"owner with another level's export scope", client("system/Patient.$export"), apperr.Forbidden, -1},
		{"owner with read scopes only", client("system/*.read"), apperr.Forbidden, -1},
		{"another client", actor.Actor{ClientID: "c2", Scopes: []string{"system/*.$bulkdata-status"}}, apperr.NotFound, apperr.NotFound},
		{"no client", actor.Actor{UserID: 1}, apperr.Unauthenticated, apperr.Unauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error, want apperr.Kind) {
				t.Helper()
				if want == -1 {
					if err != nil {
						t.Errorf("%s denied: %v", what, err)
					}
				} else if !apperr.Is(err, want) {
					t.Errorf("%s: got %v (%v), want %v", what, apperr.KindOf(err), err, want)
				}
			}
			check("status", authorizeStatus(tc.a, ex), tc.status)
			check("files", authorizeOwner(tc.a, ex), tc.ownerFiles)
		})
	}
}
