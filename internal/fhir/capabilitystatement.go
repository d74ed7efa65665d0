package fhir

import "encoding/json"

// CapabilityStatement is the R4 CapabilityStatement resource: what a FHIR
// server offers (served at [base]/metadata). Rest[].security carries the
// SMART on FHIR service coding and the oauth-uris extension.
type CapabilityStatement struct {
	DomainResource

	URL                 string                             `json:"url,omitempty"`
	Version             string                             `json:"version,omitempty"`
	Name                string                             `json:"name,omitempty"`
	Title               string                             `json:"title,omitempty"`
	Status              string                             `json:"status"` // draft | active | retired | unknown
	Experimental        *bool                              `json:"experimental,omitempty"`
	Date                string                             `json:"date"` // dateTime
	Publisher           string                             `json:"publisher,omitempty"`
	Contact             []ContactDetail                    `json:"contact,omitempty"`
	Description         string                             `json:"description,omitempty"`
	Jurisdiction        []CodeableConcept                  `json:"jurisdiction,omitempty"`
	Purpose             string                             `json:"purpose,omitempty"`
	Copyright           string                             `json:"copyright,omitempty"`
	Kind                string                             `json:"kind"` // instance | capability | requirements
	Instantiates        []string                           `json:"instantiates,omitempty"`
	Imports             []string                           `json:"imports,omitempty"`
	Software            *CapabilityStatementSoftware       `json:"software,omitempty"`
	Implementation      *CapabilityStatementImplementation `json:"implementation,omitempty"`
	FHIRVersion         string                             `json:"fhirVersion"`
	Format              []string                           `json:"format,omitempty"` // at least one in R4
	PatchFormat         []string                           `json:"patchFormat,omitempty"`
	ImplementationGuide []string                           `json:"implementationGuide,omitempty"`
	Rest                []CapabilityStatementRest          `json:"rest,omitempty"`
}

// CapabilityStatementSoftware is the server software.
type CapabilityStatementSoftware struct {
	Name        string `json:"name"`
	Version     string `json:"version,omitempty"`
	ReleaseDate string `json:"releaseDate,omitempty"` // dateTime
}

// CapabilityStatementImplementation is the running instance.
type CapabilityStatementImplementation struct {
	Description string     `json:"description"`
	URL         string     `json:"url,omitempty"`
	Custodian   *Reference `json:"custodian,omitempty"`
}

// CapabilityStatementRest is the RESTful interface in one mode.
type CapabilityStatementRest struct {
	Extension     []Extension                      `json:"extension,omitempty"`
	Mode          string                           `json:"mode"` // client | server
	Documentation string                           `json:"documentation,omitempty"`
	Security      *CapabilityStatementSecurity     `json:"security,omitempty"`
	Resource      []CapabilityStatementResource    `json:"resource,omitempty"`
	Interaction   []CapabilityStatementInteraction `json:"interaction,omitempty"` // system-level
	SearchParam   []CapabilityStatementSearchParam `json:"searchParam,omitempty"` // all resources
	Operation     []CapabilityStatementOperation   `json:"operation,omitempty"`   // system-level
	Compartment   []string                         `json:"compartment,omitempty"`
}

// CapabilityStatementSecurity describes how clients authenticate; a SMART
// server lists ServiceSMART in Service and ExtOAuthURIs in Extension.
type CapabilityStatementSecurity struct {
	Extension   []Extension       `json:"extension,omitempty"`
	CORS        *bool             `json:"cors,omitempty"`
	Service     []CodeableConcept `json:"service,omitempty"`
	Description string            `json:"description,omitempty"`
}

// CapabilityStatementResource is what the server supports for one type.
type CapabilityStatementResource struct {
	Extension         []Extension                      `json:"extension,omitempty"`
	Type              string                           `json:"type"`
	Profile           string                           `json:"profile,omitempty"`
	SupportedProfile  []string                         `json:"supportedProfile,omitempty"`
	Documentation     string                           `json:"documentation,omitempty"`
	Interaction       []CapabilityStatementInteraction `json:"interaction,omitempty"`
	Versioning        string                           `json:"versioning,omitempty"` // no-version | versioned | versioned-update
	ReadHistory       *bool                            `json:"readHistory,omitempty"`
	UpdateCreate      *bool                            `json:"updateCreate,omitempty"`
	ConditionalCreate *bool                            `json:"conditionalCreate,omitempty"`
	ConditionalRead   string                           `json:"conditionalRead,omitempty"`
	ConditionalUpdate *bool                            `json:"conditionalUpdate,omitempty"`
	ConditionalDelete string                           `json:"conditionalDelete,omitempty"`
	ReferencePolicy   []string                         `json:"referencePolicy,omitempty"`
	SearchInclude     []string                         `json:"searchInclude,omitempty"`
	SearchRevInclude  []string                         `json:"searchRevInclude,omitempty"`
	SearchParam       []CapabilityStatementSearchParam `json:"searchParam,omitempty"`
	Operation         []CapabilityStatementOperation   `json:"operation,omitempty"`
}

// CapabilityStatementInteraction is one supported interaction: read,
// search-type, create... at the type level, or transaction, batch,
// search-system, history-system at the system level.
type CapabilityStatementInteraction struct {
	Extension     []Extension `json:"extension,omitempty"`
	Code          string      `json:"code"`
	Documentation string      `json:"documentation,omitempty"`
}

// CapabilityStatementSearchParam is one supported search parameter.
type CapabilityStatementSearchParam struct {
	Extension     []Extension `json:"extension,omitempty"`
	Name          string      `json:"name"`
	Definition    string      `json:"definition,omitempty"`
	Type          string      `json:"type"` // number | date | string | token | reference | composite | quantity | uri | special
	Documentation string      `json:"documentation,omitempty"`
}

// CapabilityStatementOperation is one supported operation, such as
// $export, named without its "$".
type CapabilityStatementOperation struct {
	Extension     []Extension `json:"extension,omitempty"`
	Name          string      `json:"name"`
	Definition    string      `json:"definition"` // canonical OperationDefinition
	Documentation string      `json:"documentation,omitempty"`
}

// SMART on FHIR and Bulk Data names used in a CapabilityStatement.
const (
	// ExtOAuthURIs is the SMART extension on rest.security listing the
	// OAuth endpoints as nested valueUri extensions (authorize, token,
	// register, manage, introspect, revoke).
	ExtOAuthURIs = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
	// SystemRestfulSecurityService is R4's code system of
	// rest.security.service (OAuth, SMART-on-FHIR, Basic...).
	SystemRestfulSecurityService = "http://terminology.hl7.org/CodeSystem/restful-security-service"
	// OperationExport is the Bulk Data $export OperationDefinition.
	OperationExport = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
	// OperationPatientExport is the Bulk Data Patient/$export OperationDefinition.
	OperationPatientExport = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
	// OperationPatientMatch is R4's Patient/$match OperationDefinition.
	OperationPatientMatch = "http://hl7.org/fhir/OperationDefinition/Patient-match"
	// ExtMatchGrade is R4's match-grade extension on Bundle.entry.search
	// (valueCode from http://hl7.org/fhir/ValueSet/match-grade).
	ExtMatchGrade = "http://hl7.org/fhir/StructureDefinition/match-grade"
	// OperationGroupExport is the Bulk Data Group/[id]/$export OperationDefinition.
	OperationGroupExport = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
	// CapabilityBulkData is the Bulk Data Access IG's server
	// CapabilityStatement, which a server offering $export instantiates.
	CapabilityBulkData = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
	// GuideBulkData is the Bulk Data Access ImplementationGuide.
	GuideBulkData = "http://hl7.org/fhir/uv/bulkdata/ImplementationGuide/hl7.fhir.uv.bulkdata"
	// GuideSMARTAppLaunch is the SMART App Launch ImplementationGuide. SMART
	// App Launch (2.x) publishes no CapabilityStatement for an authorizing
	// FHIR server (its only one, smart-app-state-server, is for the App
	// State feature ward lacks), so ward names the guide instead of
	// instantiating a statement.
	GuideSMARTAppLaunch = "http://hl7.org/fhir/smart-app-launch/ImplementationGuide/hl7.fhir.uv.smart-app-launch"
)

// OAuthURI is one endpoint in the SMART oauth-uris extension: its name
// ("authorize", "token", "revoke"...) and absolute URL.
type OAuthURI struct {
	Name string
	URL  string
}

// SMARTSecurity returns rest.security for a SMART on FHIR server whose
// OAuth endpoints are uris (empty URLs are left out), with the
// SMART-on-FHIR service coding and CORS enabled.
func SMARTSecurity(description string, uris ...OAuthURI) *CapabilityStatementSecurity {
	ext := Extension{URL: ExtOAuthURIs}
	for _, u := range uris {
		if u.URL != "" {
			ext.Extension = append(ext.Extension, Extension{URL: u.Name, ValueURI: u.URL})
		}
	}
	s := &CapabilityStatementSecurity{
		CORS: boolPtr(true),
		Service: []CodeableConcept{{
			Coding: []Coding{{System: SystemRestfulSecurityService, Code: "SMART-on-FHIR", Display: "SMART-on-FHIR"}},
			Text:   "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
		}},
		Description: description,
	}
	if len(ext.Extension) > 0 {
		s.Extension = []Extension{ext}
	}
	return s
}

// OAuthURIs returns the endpoints listed in the SMART oauth-uris extension
// of security, in order; nil when there is none.
func (s *CapabilityStatementSecurity) OAuthURIs() []OAuthURI {
	if s == nil {
		return nil
	}
	ext := findExtension(s.Extension, ExtOAuthURIs)
	if ext == nil {
		return nil
	}
	var out []OAuthURI
	for _, e := range ext.Extension {
		out = append(out, OAuthURI{Name: e.URL, URL: e.ValueURI})
	}
	return out
}

// ResourceType returns "CapabilityStatement".
func (CapabilityStatement) ResourceType() string { return "CapabilityStatement" }

// capabilityStatementWire is CapabilityStatement without its JSON methods,
// for the codec below.
type capabilityStatementWire CapabilityStatement

// MarshalJSON writes the resource with its resourceType first.
func (c CapabilityStatement) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		capabilityStatementWire
	}{"CapabilityStatement", capabilityStatementWire(c)})
}

// UnmarshalJSON decodes strictly, as DecodeCapabilityStatement does.
func (c *CapabilityStatement) UnmarshalJSON(data []byte) error {
	d, err := DecodeCapabilityStatement(data)
	if err != nil {
		return err
	}
	*c = *d
	return nil
}

// DecodeCapabilityStatement decodes a CapabilityStatement (a server's
// /metadata, as a client reads it) with the same strictness as
// DecodePatient.
func DecodeCapabilityStatement(data []byte) (*CapabilityStatement, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		capabilityStatementWire
	}
	if err := decodeStrict(data, "CapabilityStatement", &w); err != nil {
		return nil, err
	}
	c := CapabilityStatement(w.capabilityStatementWire)
	return &c, nil
}
