package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/apperr"
	"ward/internal/directory"
)

// consentJSON is a consent agreement, named as the reference names it.
type consentJSON struct {
	ID               int64      `json:"id"`
	UserID           int64      `json:"user_id"`
	OrganizationID   int64      `json:"organization_id"`
	AgreementURL     string     `json:"agreement_url"`
	Status           string     `json:"status" enum:"consented,suspended,deleted"`
	StaffEditable    bool       `json:"staff_editable"`
	IncludeInReports bool       `json:"include_in_reports"`
	SendReminders    bool       `json:"send_reminders"`
	AcceptanceDate   time.Time  `json:"acceptance_date"`
	Expires          time.Time  `json:"expires"`
	Deleted          *time.Time `json:"deleted,omitempty"`
	DeletedBy        int64      `json:"deleted_by,omitempty"`
}

func toConsentJSON(c *directory.Consent) consentJSON {
	return consentJSON{
		ID: c.ID, UserID: c.UserID, OrganizationID: c.OrganizationID, AgreementURL: c.AgreementURL,
		Status: c.Status, StaffEditable: c.StaffEditable, IncludeInReports: c.IncludeInReports,
		SendReminders: c.SendReminders, AcceptanceDate: c.AcceptanceDate, Expires: c.ExpiresAt,
		Deleted: c.DeletedAt, DeletedBy: c.DeletedBy,
	}
}

type consentsBody struct {
	Consents []consentJSON `json:"consent_agreements"`
}

type addConsentInput struct {
	ID   string `path:"id" doc:"User id (a positive integer)." example:"42"`
	Body struct {
		OrganizationID   int64      `json:"organization_id" minimum:"1"`
		AgreementURL     string     `json:"agreement_url" minLength:"1" maxLength:"2048" format:"uri"`
		Status           string     `json:"status,omitempty" enum:"consented,suspended" doc:"Default consented."`
		StaffEditable    bool       `json:"staff_editable,omitempty"`
		IncludeInReports bool       `json:"include_in_reports,omitempty"`
		SendReminders    bool       `json:"send_reminders,omitempty"`
		AcceptanceDate   *time.Time `json:"acceptance_date,omitempty" doc:"Default now."`
		Expires          *time.Time `json:"expires,omitempty" doc:"Default five years after acceptance."`
	}
}

type orgRefBody struct {
	OrganizationID int64 `json:"organization_id" minimum:"1"`
}

type deleteConsentInput struct {
	ID             string      `path:"id" doc:"User id (a positive integer)." example:"42"`
	OrganizationID int64       `query:"organization_id" doc:"The organization whose consent is deleted (or give it in the body, as the reference did)."`
	Body           *orgRefBody `required:"false"`
}

type withdrawConsentInput struct {
	ID   string `path:"id" doc:"User id (a positive integer)." example:"42"`
	Body orgRefBody
}

type touJSON = directory.ToU

type acceptToUInput struct {
	Body struct {
		AgreementURL   string `json:"agreement_url" minLength:"1" maxLength:"2048" format:"uri"`
		Type           string `json:"type" minLength:"1" maxLength:"64" example:"website terms of use"`
		OrganizationID int64  `json:"organization_id,omitempty" minimum:"0"`
		UserID         int64  `json:"user_id,omitempty" minimum:"0" doc:"Default the signed-in user."`
	}
}

func (s *server) registerConsents(api huma.API) {
	tags := []string{"consents"}

	register(api, s, huma.Operation{
		OperationID: "get-user-consents", Method: http.MethodGet, Path: "/api/user/{id}/consent", Tags: tags,
		Summary: "A user's consents, deleted ones included, newest first", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userPath) (*struct{ Body consentsBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		cs, err := s.dir.Consents(ctx, id)
		if err != nil {
			return nil, err
		}
		out := consentsBody{Consents: make([]consentJSON, len(cs))}
		for i := range cs {
			out.Consents[i] = toConsentJSON(&cs[i])
		}
		return &struct{ Body consentsBody }{out}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "add-user-consent", Method: http.MethodPost, Path: "/api/user/{id}/consent", Tags: tags,
		Summary: "Record a user's consent to share data with an organization", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *addConsentInput) (*struct{ Body consentJSON }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		b := in.Body
		c := &directory.Consent{
			UserID: id, OrganizationID: b.OrganizationID, AgreementURL: b.AgreementURL, Status: b.Status,
			StaffEditable: b.StaffEditable, IncludeInReports: b.IncludeInReports, SendReminders: b.SendReminders,
		}
		if c.Status == "" {
			c.Status = directory.ConsentConsented
		}
		// Zero times let the service apply its defaults (now, five years).
		if b.AcceptanceDate != nil {
			c.AcceptanceDate = *b.AcceptanceDate
		}
		if b.Expires != nil {
			c.ExpiresAt = *b.Expires
		}
		if b.AcceptanceDate != nil && b.Expires != nil && !b.Expires.After(*b.AcceptanceDate) {
			return nil, apperr.New(apperr.Invalid, "expires must be after acceptance_date")
		}
		got, err := s.dir.AddConsent(ctx, c)
		if err != nil {
			return nil, err
		}
		return &struct{ Body consentJSON }{toConsentJSON(got)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "delete-user-consent", Method: http.MethodDelete, Path: "/api/user/{id}/consent", Tags: tags,
		Summary:       "Delete a user's consent with an organization",
		Description:   "The consent is kept, marked deleted with who deleted it. Name the organization in the query or the body.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *deleteConsentInput) (*emptyOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		orgID := in.OrganizationID
		if in.Body != nil {
			if orgID != 0 && orgID != in.Body.OrganizationID {
				return nil, apperr.New(apperr.Invalid, "organization_id in the query and the body differ")
			}
			orgID = in.Body.OrganizationID
		}
		if orgID <= 0 {
			return nil, apperr.New(apperr.Invalid, "organization_id must be a positive integer")
		}
		return &emptyOutput{}, s.dir.DeleteConsent(ctx, id, orgID)
	})

	register(api, s, huma.Operation{
		OperationID: "withdraw-user-consent", Method: http.MethodPost, Path: "/api/user/{id}/consent/withdraw", Tags: tags,
		Summary: "Withdraw (suspend) a user's consent with an organization", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *withdrawConsentInput) (*struct{ Body consentJSON }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		c, err := s.dir.WithdrawConsent(ctx, id, in.Body.OrganizationID)
		if err != nil {
			return nil, err
		}
		return &struct{ Body consentJSON }{toConsentJSON(c)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-user-tou", Method: http.MethodGet, Path: "/api/user/{id}/tou", Tags: tags,
		Summary: "Terms of use a user accepted, newest first", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userPath) (*struct {
		Body struct {
			ToUs []touJSON `json:"tous"`
		}
	}, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		ts, err := s.dir.ToUs(ctx, id)
		if err != nil {
			return nil, err
		}
		out := &struct {
			Body struct {
				ToUs []touJSON `json:"tous"`
			}
		}{}
		out.Body.ToUs = nonNil(ts)
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "accept-tou", Method: http.MethodPost, Path: "/api/tou/accepted", Tags: tags,
		Summary: "Record acceptance of terms of use", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *acceptToUInput) (*struct{ Body touJSON }, error) {
		b := in.Body
		userID := b.UserID
		if userID == 0 {
			var err error
			if userID, err = actingUser(ctx); err != nil {
				return nil, err
			}
		}
		t, err := s.dir.AcceptToU(ctx, &directory.ToU{
			UserID: userID, Type: b.Type, URL: b.AgreementURL, OrganizationID: b.OrganizationID, Active: true,
		})
		if err != nil {
			return nil, err
		}
		return &struct{ Body touJSON }{*t}, nil
	})
}
