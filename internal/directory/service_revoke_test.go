package directory_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"ward/internal/directory"
	"ward/internal/testutil"
)

// recordingRevoker records what the directory asked it to end, and fails
// when told to, to prove the change rolls back with it.
type recordingRevoker struct {
	users, launches, sessions []int64
	fail                      bool
}

func (r *recordingRevoker) err() error {
	if r.fail {
		return errors.New("token store unavailable")
	}
	return nil
}

func (r *recordingRevoker) RevokeUserTokens(_ context.Context, id int64) (int, error) {
	r.users = append(r.users, id)
	return 0, r.err()
}

func (r *recordingRevoker) RevokePatientLaunchTokens(_ context.Context, id int64) (int, error) {
	r.launches = append(r.launches, id)
	return 0, r.err()
}

func (r *recordingRevoker) DeleteUserSessions(_ context.Context, id int64) error {
	r.sessions = append(r.sessions, id)
	return r.err()
}

// TestServiceRevokes: the changes that take access away ask the Revoker to
// end the tokens and sessions that carried it, and adding access asks
// nothing; when the revocation fails, the change does not happen.
func TestServiceRevokes(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		r := &recordingRevoker{}
		w.svc.RevokeWith(r)
		admin := w.as(w.admin)

		if _, err := w.svc.AddRoles(admin, w.staffA, []string{directory.RoleClinician}); err != nil {
			t.Fatal(err)
		}
		if len(r.users)+len(r.sessions) != 0 {
			t.Fatalf("adding a role revoked %v / %v", r.users, r.sessions)
		}
		if _, err := w.svc.DeleteRoles(admin, w.staffA, []string{directory.RoleClinician}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.users, []int64{w.staffA}) || !slices.Equal(r.sessions, []int64{w.staffA}) {
			t.Fatalf("removing a role revoked %v / %v, want user %d", r.users, r.sessions, w.staffA)
		}
		if _, err := w.svc.WithdrawConsent(admin, w.patient, w.clinicA1); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.launches, []int64{w.patient}) {
			t.Fatalf("withdrawing a consent revoked launches on %v, want %d", r.launches, w.patient)
		}

		// A failing revocation takes the deletion with it.
		r.fail = true
		if err := w.svc.DeleteUser(admin, w.patientNoConsent); err == nil {
			t.Fatal("deleted a user whose tokens could not be revoked")
		}
		if u, err := w.svc.GetUser(admin, w.patientNoConsent); err != nil || !u.Active() {
			t.Fatalf("the user is deleted although the revocation failed: %v %+v", err, u)
		}
		r.fail = false
		if err := w.svc.DeleteUser(admin, w.patientNoConsent); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(r.users, w.patientNoConsent) || !slices.Contains(r.sessions, w.patientNoConsent) {
			t.Fatalf("deleting a user revoked %v / %v", r.users, r.sessions)
		}
	})
}
