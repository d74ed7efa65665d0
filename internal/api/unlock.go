package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

func (s *server) registerUnlock(api huma.API) {
	register(api, s, huma.Operation{
		OperationID: "unlock-user", Method: http.MethodPost, Path: "/api/user/{id}/unlock", Tags: []string{"users"},
		Summary: "Clear a user's sign-in lockout", DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
		Description: "After too many failed sign-ins an account is locked for a while (answered like a wrong password). " +
			"Admins, and staff admins who may edit the user, may end the lockout at once; it is audited.",
	}, func(ctx context.Context, in *userPath) (*emptyOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		return &emptyOutput{}, s.sess.Unlock(ctx, id)
	})
}
