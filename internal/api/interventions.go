package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/intervention"
)

// interventionJSON is an intervention as the management API shows it. The
// HTML and text fields are the intervention's own content, returned as
// given: a page that shows them must sanitise them (docs/interventions.md).
type interventionJSON struct {
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	CardHTML     string    `json:"card_html" doc:"HTML fragment of the card, stored as given; sanitise before display."`
	LinkLabel    string    `json:"link_label"`
	LinkURL      string    `json:"link_url"`
	StatusText   string    `json:"status_text"`
	PublicAccess bool      `json:"public_access" doc:"When true the card is shown to everyone."`
	DisplayRank  int       `json:"display_rank"`
	ClientID     string    `json:"client_id,omitempty" doc:"The OAuth client acting for the intervention: the one client whose registration names it."`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	Version      int64     `json:"version"`
}

func toInterventionJSON(iv *intervention.Intervention) interventionJSON {
	return interventionJSON{Name: iv.Name, Description: iv.Description, CardHTML: iv.CardHTML,
		LinkLabel: iv.LinkLabel, LinkURL: iv.LinkURL, StatusText: iv.StatusText, PublicAccess: iv.PublicAccess,
		DisplayRank: iv.DisplayRank, ClientID: iv.ClientID, Created: iv.CreatedAt, Updated: iv.UpdatedAt,
		Version: iv.Version}
}

// interventionChanges are the settings a create or an update names; an
// absent field is left as it is (an update) or takes its default (a
// create: public_access true, everything else empty).
type interventionChanges struct {
	Description  *string `json:"description,omitempty" maxLength:"2000"`
	CardHTML     *string `json:"card_html,omitempty" maxLength:"65536"`
	LinkLabel    *string `json:"link_label,omitempty" maxLength:"200"`
	LinkURL      *string `json:"link_url,omitempty" maxLength:"2000" doc:"An absolute http(s) URL, or empty for no link."`
	StatusText   *string `json:"status_text,omitempty" maxLength:"2000"`
	PublicAccess *bool   `json:"public_access,omitempty" doc:"Defaults to true on create, as in the reference."`
	DisplayRank  *int    `json:"display_rank,omitempty" minimum:"-1000000" maximum:"1000000"`
}

func (c *interventionChanges) apply(iv *intervention.Intervention) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&iv.Description, c.Description)
	set(&iv.CardHTML, c.CardHTML)
	set(&iv.LinkLabel, c.LinkLabel)
	set(&iv.LinkURL, c.LinkURL)
	set(&iv.StatusText, c.StatusText)
	if c.PublicAccess != nil {
		iv.PublicAccess = *c.PublicAccess
	}
	if c.DisplayRank != nil {
		iv.DisplayRank = *c.DisplayRank
	}
}

// createInterventionBody is interventionChanges with the name; the fields
// are spelled out because huma's schemas skip an unexported embedded struct.
type createInterventionBody struct {
	Name         string  `json:"name" maxLength:"50" pattern:"^[a-z][a-z0-9_]*$" example:"decision_support_p3p"`
	Description  *string `json:"description,omitempty" maxLength:"2000"`
	CardHTML     *string `json:"card_html,omitempty" maxLength:"65536"`
	LinkLabel    *string `json:"link_label,omitempty" maxLength:"200"`
	LinkURL      *string `json:"link_url,omitempty" maxLength:"2000" doc:"An absolute http(s) URL, or empty for no link."`
	StatusText   *string `json:"status_text,omitempty" maxLength:"2000"`
	PublicAccess *bool   `json:"public_access,omitempty" doc:"Defaults to true, as in the reference."`
	DisplayRank  *int    `json:"display_rank,omitempty" minimum:"-1000000" maximum:"1000000"`
}

func (b *createInterventionBody) changes() interventionChanges {
	return interventionChanges{Description: b.Description, CardHTML: b.CardHTML, LinkLabel: b.LinkLabel,
		LinkURL: b.LinkURL, StatusText: b.StatusText, PublicAccess: b.PublicAccess, DisplayRank: b.DisplayRank}
}

type interventionPath struct {
	Name string `path:"name" maxLength:"50" doc:"The intervention's name." example:"care_plan"`
}

type interventionOutput struct {
	Body interventionJSON
}

type interventionList struct {
	Interventions []interventionJSON `json:"interventions"`
}

func (s *server) registerInterventions(api huma.API) {
	tags := []string{"interventions"}
	register(api, s, huma.Operation{
		OperationID: "list-interventions", Method: http.MethodGet, Path: "/api/intervention", Tags: tags,
		Summary: "List interventions", Description: "Administrators only. By display rank, then name.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body interventionList }, error) {
		ivs, err := s.ivs.List(ctx)
		if err != nil {
			return nil, err
		}
		out := &struct{ Body interventionList }{Body: interventionList{Interventions: make([]interventionJSON, len(ivs))}}
		for i, iv := range ivs {
			out.Body.Interventions[i] = toInterventionJSON(iv)
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "create-intervention", Method: http.MethodPost, Path: "/api/intervention", Tags: tags,
		Summary: "Create an intervention", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Administrators only. The name is the key: lower-case letters, digits and _. " +
			"The client acting for the intervention is set on the client (PUT /api/client/{client_id}, intervention).",
	}, func(ctx context.Context, in *struct{ Body createInterventionBody }) (*struct {
		Location string `header:"Location"`
		Body     interventionJSON
	}, error) {
		iv := intervention.Intervention{Name: in.Body.Name, PublicAccess: true}
		ch := in.Body.changes()
		ch.apply(&iv)
		got, err := s.ivs.Create(ctx, iv)
		if err != nil {
			return nil, err
		}
		return &struct {
			Location string `header:"Location"`
			Body     interventionJSON
		}{Location: s.base + "/api/intervention/" + url.PathEscape(got.Name), Body: toInterventionJSON(got)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-intervention", Method: http.MethodGet, Path: "/api/intervention/{name}", Tags: tags,
		Summary: "One intervention", Description: "Administrators only.", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *interventionPath) (*interventionOutput, error) {
		iv, err := s.ivs.Get(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		return &interventionOutput{Body: toInterventionJSON(iv)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "update-intervention", Method: http.MethodPatch, Path: "/api/intervention/{name}", Tags: tags,
		Summary: "Change an intervention's settings", Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: "Administrators only. Changes the fields the body names and leaves the others. " +
			"With If-Match-Version, the change applies only to that version (409 otherwise). " +
			"PATCH, not PUT: PUT /api/intervention/{name} is the reference's per-user access call.",
	}, func(ctx context.Context, in *struct {
		Name    string `path:"name" maxLength:"50"`
		Version int64  `header:"If-Match-Version" minimum:"0" doc:"The version the change is based on."`
		Body    interventionChanges
	}) (*interventionOutput, error) {
		iv, err := s.ivs.Update(ctx, in.Name, in.Version, func(iv *intervention.Intervention) error {
			in.Body.apply(iv)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &interventionOutput{Body: toInterventionJSON(iv)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "delete-intervention", Method: http.MethodDelete, Path: "/api/intervention/{name}", Tags: tags,
		Summary: "Delete an intervention", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
		Description: "Administrators only. Removes every person's access row with it; its client then acts for no intervention.",
	}, func(ctx context.Context, in *interventionPath) (*emptyOutput, error) {
		return &emptyOutput{}, s.ivs.Delete(ctx, in.Name)
	})
}

// userInterventionJSON is one person's row for an intervention, as the
// reference's PUT /api/intervention/{name} takes and answers it. access is
// absent when the person has no row.
type userInterventionJSON struct {
	Intervention string     `json:"intervention_name"`
	UserID       int64      `json:"user_id"`
	Access       string     `json:"access,omitempty" enum:"forbidden,granted,subscribed"`
	CardHTML     string     `json:"card_html"`
	LinkLabel    string     `json:"link_label"`
	LinkURL      string     `json:"link_url"`
	StatusText   string     `json:"status_text"`
	StaffHTML    string     `json:"staff_html"`
	Updated      *time.Time `json:"updated,omitempty"`
}

func toUserInterventionJSON(ui *intervention.UserIntervention) userInterventionJSON {
	out := userInterventionJSON{Intervention: ui.Intervention, UserID: ui.UserID, Access: string(ui.Access),
		CardHTML: ui.CardHTML, LinkLabel: ui.LinkLabel, LinkURL: ui.LinkURL, StatusText: ui.StatusText,
		StaffHTML: ui.StaffHTML}
	if !ui.UpdatedAt.IsZero() {
		t := ui.UpdatedAt
		out.Updated = &t
	}
	return out
}

// userAccessBody is the reference's PUT body: the person and the fields to
// change; absent fields keep their value.
type userAccessBody struct {
	UserID     int64   `json:"user_id" minimum:"1" doc:"The person whose access is set."`
	Access     *string `json:"access,omitempty" enum:"forbidden,granted,subscribed" doc:"Required for a person without a row. subscribed does not show the card: it routes the person's events to the intervention."`
	CardHTML   *string `json:"card_html,omitempty" maxLength:"65536"`
	LinkLabel  *string `json:"link_label,omitempty" maxLength:"200"`
	LinkURL    *string `json:"link_url,omitempty" maxLength:"2000" doc:"Must be on an origin (scheme://host:port) the intervention's client registered as a redirect URI."`
	StatusText *string `json:"status_text,omitempty" maxLength:"2000"`
	StaffHTML  *string `json:"staff_html,omitempty" maxLength:"65536"`
}

func (s *server) registerUserAccess(api huma.API) {
	tags := []string{"interventions"}
	register(api, s, huma.Operation{
		OperationID: "set-user-intervention", Method: http.MethodPut, Path: "/api/intervention/{name}", Tags: tags,
		Summary: "Set one person's access to an intervention", Errors: []int{http.StatusNotFound},
		Description: "Only the service account of the intervention's own client (a service user sponsored by " +
			"the client's owner) may call it, and it needs edit on the person. Changes the fields the body " +
			"names (a partial merge) and answers the person's row.",
	}, func(ctx context.Context, in *struct {
		Name string `path:"name" maxLength:"50"`
		Body userAccessBody
	}) (*struct{ Body userInterventionJSON }, error) {
		b := in.Body
		ch := intervention.UserAccessChange{CardHTML: b.CardHTML, LinkLabel: b.LinkLabel, LinkURL: b.LinkURL,
			StatusText: b.StatusText, StaffHTML: b.StaffHTML}
		if b.Access != nil {
			a := intervention.Access(*b.Access)
			ch.Access = &a
		}
		ui, err := s.ivs.SetUserAccess(ctx, in.Name, b.UserID, ch)
		if err != nil {
			return nil, err
		}
		return &struct{ Body userInterventionJSON }{Body: toUserInterventionJSON(ui)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-user-intervention", Method: http.MethodGet, Path: "/api/intervention/{name}/user/{id}",
		Tags: tags, Summary: "One person's access row for an intervention", Errors: []int{http.StatusNotFound},
		Description: "Needs edit on the person. access is absent when the person has no row.",
	}, func(ctx context.Context, in *struct {
		Name string `path:"name" maxLength:"50"`
		ID   string `path:"id" doc:"User id (a positive integer)."`
	}) (*struct{ Body userInterventionJSON }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		ui, err := s.ivs.UserAccess(ctx, in.Name, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body userInterventionJSON }{Body: toUserInterventionJSON(ui)}, nil
	})
}
