package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"ward/internal/testutil"
)

// TestUniqueEmailAccess: whether an address is taken tells that a person
// has an account, so /api/unique_email answers only admins, and staff about
// unused addresses or people they may view. Patients, developers and
// anonymous callers are refused whatever the address, and staff cannot ask
// about people outside their organizations, directly or through user_id.
func TestUniqueEmailAccess(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		w := e.world()
		dev := e.createUser("dev@example.org", "Dee", "Dev", []string{"application_developer"}, nil)
		clin := e.createUser("clin@example.org", "Cal", "Clinician", []string{"clinician"}, []int64{w.top})
		type want struct {
			status int
			unique bool // when status is 200
		}
		free, taken := want{http.StatusOK, true}, want{http.StatusOK, false}
		forbidden, anonymous := want{status: http.StatusForbidden}, want{status: http.StatusUnauthorized}
		tests := []struct {
			name  string
			as    int64
			query string
			want  want
		}{
			{"anonymous, unused address", 0, "email=nobody@example.org", anonymous},
			{"anonymous, taken address", 0, "email=pat@example.org", anonymous},
			{"patient, unused address", w.patient, "email=nobody@example.org", forbidden},
			{"patient, own address", w.patient, "email=pat@example.org", forbidden},
			{"patient, another's address", w.patient, "email=stranger@example.org", forbidden},
			{"developer, unused address", dev, "email=nobody@example.org", forbidden},
			{"developer, taken address", dev, "email=stranger@example.org", forbidden},
			{"admin, unused address", e.adminID, "email=nobody@example.org", free},
			{"admin, anyone's address", e.adminID, "email=STRANGER@example.org", taken},
			{"admin, the holder's own", e.adminID, fmt.Sprintf("email=stranger@example.org&user_id=%d", w.stranger), free},
			{"staff, unused address", w.staff, "email=nobody@example.org", free},
			{"staff, a patient they may view", w.staff, "email=pat@example.org", taken},
			{"staff, editing that patient", w.staff, fmt.Sprintf("email=pat@example.org&user_id=%d", w.patient), free},
			{"staff, a patient outside their organizations", w.staff, "email=stranger@example.org", forbidden},
			{"staff, probing an id outside their organizations", w.staff, fmt.Sprintf("email=stranger@example.org&user_id=%d", w.stranger), forbidden},
			{"staff, user_id outside their organizations", w.staff, fmt.Sprintf("email=nobody@example.org&user_id=%d", w.stranger), forbidden},
			{"clinician, a patient they may view", clin, "email=pat@example.org", taken},
			{"clinician, a patient outside their organizations", clin, "email=stranger@example.org", forbidden},
			{"staff, a malformed address", w.staff, "email=not-an-email", want{status: http.StatusBadRequest}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := *e
				e.t = t
				res := e.do("GET", "/api/unique_email?"+tt.query, tt.as, nil)
				if res.status != tt.want.status {
					t.Fatalf("status %d, want %d: %s", res.status, tt.want.status, res.body)
				}
				if tt.want.status != http.StatusOK {
					return
				}
				var out struct {
					Unique *bool `json:"unique"`
				}
				if err := json.Unmarshal(res.body, &out); err != nil || out.Unique == nil {
					t.Fatalf("body %s: %v", res.body, err)
				}
				if *out.Unique != tt.want.unique {
					t.Errorf("unique = %v, want %v", *out.Unique, tt.want.unique)
				}
			})
		}
	})
}
