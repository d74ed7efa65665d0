package rest

import (
	"net/http"
	"slices"
	"time"

	"ward/internal/fhir"
	"ward/internal/fhir/search"
)

// metadata answers GET /fhir/metadata: a CapabilityStatement built from
// the same table Mount routes from, so it lists exactly what is served.
func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, h.Capabilities())
}

// Capabilities is the server's CapabilityStatement.
func (h *Handler) Capabilities() *fhir.CapabilityStatement {
	rest := fhir.CapabilityStatementRest{
		Mode:          "server",
		Documentation: "ward's FHIR R4 API. Access follows the token's SMART scopes: patient/ scopes reach the launch patient's compartment, user/ scopes what the user may see in the directory, system/ scopes what the client was registered for.",
		Security:      h.d.Security,
		Operation:     h.d.Operations,
		Compartment:   []string{"http://hl7.org/fhir/CompartmentDefinition/patient"},
		Interaction:   []fhir.CapabilityStatementInteraction{},
	}
	for _, t := range h.types {
		res := fhir.CapabilityStatementResource{
			Type:          t.name,
			Documentation: t.documentation,
			Operation:     append(slices.Clone(h.d.TypeOperations[t.name]), t.typeOps...),
		}
		if t.name == "Patient" && h.d.Matcher != nil {
			res.Operation = append(res.Operation, matchOperation)
		}
		for _, code := range t.interactions {
			res.Interaction = append(res.Interaction, fhir.CapabilityStatementInteraction{Code: code})
		}
		if t.read != nil {
			res.Interaction = append(res.Interaction, fhir.CapabilityStatementInteraction{Code: "read"})
			res.ConditionalRead = "not-match"
			res.Versioning = "versioned"
		}
		if t.search != nil {
			res.Interaction = append(res.Interaction, fhir.CapabilityStatementInteraction{Code: "search-type"})
			res.SearchParam = searchParams(t.name)
		}
		if t.create != nil {
			res.Interaction = append(res.Interaction, fhir.CapabilityStatementInteraction{Code: "create"})
		}
		if t.update != nil {
			res.Interaction = append(res.Interaction, fhir.CapabilityStatementInteraction{Code: "update"})
			res.Versioning = "versioned-update"
			res.UpdateCreate = boolPtr(false)
		}
		rest.Resource = append(rest.Resource, res)
	}
	if len(rest.Interaction) == 0 {
		rest.Interaction = nil
	}
	// Claim only what is mounted: Bulk Data when the $export operation is,
	// SMART when the SMART security block is.
	var instantiates, guides []string
	if slices.ContainsFunc(h.d.Operations, func(o fhir.CapabilityStatementOperation) bool { return o.Definition == fhir.OperationExport }) {
		instantiates = append(instantiates, fhir.CapabilityBulkData)
		guides = append(guides, fhir.GuideBulkData)
	}
	if h.d.Security != nil {
		guides = append(guides, fhir.GuideSMARTAppLaunch)
	}
	return &fhir.CapabilityStatement{
		URL:       h.d.Base + "/metadata",
		Version:   h.d.Version,
		Name:      "Ward",
		Title:     "ward FHIR R4 server",
		Status:    "active",
		Date:      h.d.Now().UTC().Format(time.RFC3339),
		Publisher: "ward",
		Kind:      "instance",
		Software:  &fhir.CapabilityStatementSoftware{Name: "ward", Version: h.d.Version},
		Implementation: &fhir.CapabilityStatementImplementation{
			Description: "ward", URL: h.d.Base,
		},
		Instantiates:        instantiates,
		FHIRVersion:         "4.0.1",
		Format:              []string{"application/fhir+json", "json"},
		ImplementationGuide: guides,
		Rest:                []fhir.CapabilityStatementRest{rest},
	}
}

// searchParams lists a type's parameters from the parser's table, so the
// statement cannot advertise a parameter the parser refuses.
func searchParams(typ string) []fhir.CapabilityStatementSearchParam {
	var out []fhir.CapabilityStatementSearchParam
	for _, p := range search.Params(typ) {
		sp := fhir.CapabilityStatementSearchParam{Name: p.Code, Type: p.Kind.String()}
		if !p.Ward {
			sp.Definition = "http://hl7.org/fhir/SearchParameter/" + definitionName(typ, p.Code)
		} else {
			sp.Documentation = "ward's own parameter (not in R4)"
		}
		out = append(out, sp)
	}
	for _, code := range []string{"_count", "_summary", "_sort", "_cursor"} {
		sp := fhir.CapabilityStatementSearchParam{Name: code, Type: "special"}
		switch code {
		case "_count":
			sp.Type = "number"
		case "_summary":
			sp.Type, sp.Documentation = "token", "only _summary=count (and false)"
		case "_sort":
			sp.Documentation = "_id ascending only: every search pages in that order"
		case "_cursor":
			sp.Type, sp.Documentation = "string", "opaque page cursor from a next link"
		}
		out = append(out, sp)
	}
	return out
}

// definitionName is the id of the R4 SearchParameter behind a code:
// common parameters are Resource-*, the rest Type-code (individual-* and
// clinical-* for the shared ones would be more exact, but the
// Type-code ids resolve too).
func definitionName(typ, code string) string {
	switch code {
	case "_id", "_lastUpdated":
		return "Resource-" + code[1:]
	}
	return typ + "-" + code
}

func boolPtr(b bool) *bool { return &b }
