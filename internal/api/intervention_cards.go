package api

import (
	"context"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/clinical"
	"ward/internal/fhir"
	"ward/internal/intervention"
)

// cardJSON is one intervention as a person sees it: whether they have
// access and its display details (the person's row overriding the
// intervention's where set). The HTML and texts are the intervention's
// content, returned as given: sanitise before display.
type cardJSON struct {
	Name        string `json:"name"`
	Access      bool   `json:"access" doc:"Whether the person may use the intervention (display_for_user)."`
	CardHTML    string `json:"card_html"`
	LinkLabel   string `json:"link_label"`
	LinkURL     string `json:"link_url" doc:"Empty when access is false."`
	StatusText  string `json:"status_text"`
	DisplayRank int    `json:"display_rank"`
	UserAccess  string `json:"user_access,omitempty" enum:"forbidden,granted,subscribed" doc:"The person's own row, when they have one."`
	// Trace is present with ?trace=true.
	Trace *intervention.CardTrace `json:"trace,omitempty" doc:"Why: the stage that decided (strategy, user_row, public_access) and each rule evaluated with its steps."`
}

type cardsJSON struct {
	UserID        int64      `json:"user_id"`
	Interventions []cardJSON `json:"interventions"`
}

func (s *server) registerCards(api huma.API) {
	register(api, s, huma.Operation{
		OperationID: "get-user-interventions", Method: http.MethodGet, Path: "/api/user/{id}/interventions",
		Tags: []string{"interventions"}, Summary: "The interventions a person sees, decided",
		Errors: []int{http.StatusNotFound},
		Description: "Every intervention, in display order, with access true or false and its display details " +
			"(docs/interventions.md, Decisions). Needs view on the person: the person themselves, their care " +
			"staff, administrators. With trace=true each card says which stage decided and why.",
	}, func(ctx context.Context, in *struct {
		ID    string `path:"id" doc:"User id (a positive integer)."`
		Trace bool   `query:"trace" doc:"Explain each decision."`
	}) (*struct{ Body cardsJSON }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		cards, traces, err := s.ivs.UserCards(ctx, id, in.Trace)
		if err != nil {
			return nil, err
		}
		out := &struct{ Body cardsJSON }{Body: cardsJSON{UserID: id, Interventions: make([]cardJSON, len(cards))}}
		for i, c := range cards {
			out.Body.Interventions[i] = cardJSON{Name: c.Intervention.Name, Access: c.Access, CardHTML: c.CardHTML,
				LinkLabel: c.LinkLabel, LinkURL: c.LinkURL, StatusText: c.StatusText,
				DisplayRank: c.Intervention.DisplayRank, UserAccess: string(c.UserAccess)}
			if traces != nil {
				out.Body.Interventions[i].Trace = &traces[i]
			}
		}
		return out, nil
	})
}

// registerValueSets serves the treatment value sets as FHIR R4 ValueSets,
// to anyone (they are reference data, as in the reference).
func (s *server) registerValueSets(api huma.API) {
	vsT := reflect.TypeFor[fhir.ValueSet]()
	for _, vs := range []*clinical.ValueSet{clinical.TxStarted, clinical.TxNotStarted} {
		body := fhir.ValueSetFrom(vs)
		op := withRaw(huma.Operation{
			OperationID: "get-valueset-" + vs.ID, Method: http.MethodGet, Path: "/api/procedure/valueset/" + vs.ID,
			Tags: []string{"interventions"}, Summary: vs.Title + " (FHIR ValueSet)",
			Description: vs.Description + " Public: no sign-in needed.",
			// No credentials needed (an empty requirement).
			Security: []map[string][]string{{}},
		}, nil, fhirTypes(vsT))
		op.MaxBodyBytes = MaxBodyBytes
		op.Errors = []int{http.StatusBadRequest}
		huma.Register(api, op, func(ctx context.Context, in *struct {
			Accept string `header:"Accept"`
		}) (*rawOutput, error) {
			out, err := rawJSON(http.StatusOK, fhirContentType(in.Accept), body)
			if err != nil {
				return nil, problem(ctx, s.log, err)
			}
			return out, nil
		})
	}
}
