package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/intervention"
)

// accessRuleJSON is a stored access rule as the API answers it: the rule
// as its author gave it (function_details byte for byte) and bookkeeping.
type accessRuleJSON struct {
	ID              int64           `json:"id"`
	Intervention    string          `json:"intervention"`
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	Rank            *int            `json:"rank" doc:"null for an unranked rule."`
	FunctionDetails json.RawMessage `json:"function_details"`
	Version         int64           `json:"version"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	Error           string          `json:"error,omitempty" doc:"Why the stored rule no longer compiles (something it names is gone); it grants nothing until fixed."`
}

func toAccessRuleJSON(r *intervention.AccessRule) accessRuleJSON {
	return accessRuleJSON{ID: r.ID, Intervention: r.Intervention, Name: r.Name, Description: r.Description,
		Rank: r.Rank, FunctionDetails: r.Details, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Error: r.Error}
}

// accessRuleBody documents the request body. The handler reads the body
// raw and hands it to the strategy loader, whose strict checks (unknown
// keys, types, references) are the one judge of a rule.
type accessRuleBody struct {
	Name            string              `json:"name" maxLength:"500" example:"P3P Access Conditions"`
	Description     string              `json:"description,omitempty" maxLength:"4000"`
	Rank            *int                `json:"rank,omitempty" minimum:"0" maximum:"1000000" doc:"Ranked rules run first, ascending; unique per intervention."`
	FunctionDetails functionDetailsBody `json:"function_details"`
}

type functionDetailsBody struct {
	Function string      `json:"function" enum:"allow_if_not_in_intervention,combine_strategies,in_role_list,limit_by_clinic_list,limit_by_clinic_w_id,not_in_clinic_list,not_in_clinic_w_id,not_in_role_list,observation_check,tx_begun"`
	Kwargs   []kwargBody `json:"kwargs,omitempty"`
	Name     string      `json:"name,omitempty" doc:"Tolerated and ignored: the seed's own example repeats the rule's name here."`
}

type kwargBody struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

type accessRulePath struct {
	Name string `path:"name" maxLength:"50" doc:"The intervention's name." example:"care_plan"`
	ID   string `path:"id" doc:"Access rule id (a positive integer)."`
}

type accessRuleOutput struct {
	Body accessRuleJSON
}

type accessRuleList struct {
	Rules []accessRuleJSON `json:"rules"`
}

func (s *server) registerAccessRules(api huma.API) {
	tags := []string{"interventions"}
	const who = "An administrator or the service account of the intervention's own client. "
	const base = "/api/intervention/{name}/access_rule"
	rawRule := func(op huma.Operation) huma.Operation {
		op = withRaw(op, reflect.TypeFor[accessRuleBody](), nil)
		op.Metadata[metaJSONOnly] = true
		// huma would judge the raw JSON against a "string" schema; the
		// strategy loader judges it instead.
		op.SkipValidateBody = true
		return op
	}

	register(api, s, huma.Operation{
		OperationID: "list-access-rules", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List an intervention's access rules", Errors: []int{http.StatusNotFound},
		Description: who + "In creation order; a rule that no longer compiles carries an error and grants nothing.",
	}, func(ctx context.Context, in *interventionPath) (*struct{ Body accessRuleList }, error) {
		rules, err := s.ivs.Rules(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		out := &struct{ Body accessRuleList }{Body: accessRuleList{Rules: make([]accessRuleJSON, len(rules))}}
		for i, r := range rules {
			out.Body.Rules[i] = toAccessRuleJSON(r)
		}
		return out, nil
	})

	register(api, s, rawRule(huma.Operation{
		OperationID: "create-access-rule", Method: http.MethodPost, Path: base, Tags: tags,
		Summary: "Add an access rule", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound},
		Description: who + "The body is the reference's rule JSON. It is compiled when stored: an unknown " +
			"function or kwarg, a wrong type, a gap in strategy_N, nesting deeper than 5, a name that resolves " +
			"to nothing, a taken rank or a cycle through allow_if_not_in_intervention is a 400 naming the problem.",
	}), func(ctx context.Context, in *struct {
		Name    string `path:"name" maxLength:"50"`
		RawBody []byte `contentType:"application/json"`
	}) (*struct {
		Location string `header:"Location"`
		Body     accessRuleJSON
	}, error) {
		r, err := s.ivs.AddRule(ctx, in.Name, in.RawBody)
		if err != nil {
			return nil, err
		}
		return &struct {
			Location string `header:"Location"`
			Body     accessRuleJSON
		}{Location: s.base + "/api/intervention/" + url.PathEscape(r.Intervention) + "/access_rule/" +
			strconv.FormatInt(r.ID, 10), Body: toAccessRuleJSON(r)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-access-rule", Method: http.MethodGet, Path: base + "/{id}", Tags: tags,
		Summary: "One access rule", Description: who, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *accessRulePath) (*accessRuleOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		r, err := s.ivs.Rule(ctx, in.Name, id)
		if err != nil {
			return nil, err
		}
		return &accessRuleOutput{Body: toAccessRuleJSON(r)}, nil
	})

	register(api, s, rawRule(huma.Operation{
		OperationID: "replace-access-rule", Method: http.MethodPut, Path: base + "/{id}", Tags: tags,
		Summary: "Replace an access rule", Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: who + "The body replaces the whole rule and is checked as a new one is. " +
			"With If-Match-Version, it applies only to that version (409 otherwise).",
	}), func(ctx context.Context, in *struct {
		Name    string `path:"name" maxLength:"50"`
		ID      string `path:"id"`
		Version int64  `header:"If-Match-Version" minimum:"0" doc:"The version the change is based on."`
		RawBody []byte `contentType:"application/json"`
	}) (*accessRuleOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		r, err := s.ivs.UpdateRule(ctx, in.Name, id, in.Version, in.RawBody)
		if err != nil {
			return nil, err
		}
		return &accessRuleOutput{Body: toAccessRuleJSON(r)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "delete-access-rule", Method: http.MethodDelete, Path: base + "/{id}", Tags: tags,
		Summary: "Delete an access rule", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
		Description: who,
	}, func(ctx context.Context, in *accessRulePath) (*emptyOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		return &emptyOutput{}, s.ivs.DeleteRule(ctx, in.Name, id)
	})
}
