package api

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// FHIR bodies travel as raw bytes: huma would otherwise reshape them (drop
// unknown elements, add $schema), and internal/fhir's strict decoders are
// the one judge of what a valid resource is. These helpers read and write
// them, and document them in the OpenAPI description with real schemas.

const (
	ctFHIR = "application/fhir+json"
	ctJSON = "application/json"
)

// Metadata keys read by documentFHIR.
const (
	metaRequest  = "ward.request"  // reflect.Type of the raw request body
	metaJSONOnly = "ward.jsonOnly" // true: the raw request body is plain JSON, not FHIR
	metaResponse = "ward.response" // map[string]reflect.Type: content type -> body type
)

// rawOutput is a response whose body is already encoded.
type rawOutput struct {
	Status      int
	ContentType string `header:"Content-Type"`
	Location    string `header:"Location"`
	ETag        string `header:"ETag"`
	Body        []byte
}

// rawJSON encodes v as the body of a response with status and content type.
func rawJSON(status int, contentType string, v any) (*rawOutput, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("api: encode %T: %w", v, err)
	}
	return &rawOutput{Status: status, ContentType: contentType, Body: b}, nil
}

// fhirContentType picks the response content type for a FHIR body:
// application/json when that is what the client asked for and it did not
// also accept FHIR's own type, application/fhir+json otherwise.
func fhirContentType(accept string) string {
	wantJSON := false
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case ctFHIR:
			return ctFHIR
		case ctJSON:
			wantJSON = true
		}
	}
	if wantJSON {
		return ctJSON
	}
	return ctFHIR
}

// weakETag is the FHIR version ETag of a resource.
func weakETag(version int64) string {
	if version <= 0 {
		return ""
	}
	return `W/"` + strconv.FormatInt(version, 10) + `"`
}

// withRaw records the raw request and response body types of op so
// documentFHIR can describe them.
func withRaw(op huma.Operation, req reflect.Type, resp map[string]reflect.Type) huma.Operation {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	if req != nil {
		op.Metadata[metaRequest] = req
	}
	if resp != nil {
		op.Metadata[metaResponse] = resp
	}
	return op
}

// fhirTypes documents one type under both JSON content types.
func fhirTypes(t reflect.Type) map[string]reflect.Type {
	return map[string]reflect.Type{ctFHIR: t, ctJSON: t}
}

// documentFHIR replaces huma's "binary string" description of raw bodies
// with the schemas recorded by withRaw. It runs when the operation is added
// to the OpenAPI document, after huma has computed its own validation
// (none, for raw bodies), so it changes the description only.
func documentFHIR(oapi *huma.OpenAPI, op *huma.Operation) {
	reg := oapi.Components.Schemas
	if t, ok := op.Metadata[metaRequest].(reflect.Type); ok && op.RequestBody != nil {
		s := resourceSchema(reg, t)
		op.RequestBody.Content = map[string]*huma.MediaType{ctFHIR: {Schema: s}, ctJSON: {Schema: s}}
		if op.Metadata[metaJSONOnly] == true {
			delete(op.RequestBody.Content, ctFHIR)
		}
	}
	if m, ok := op.Metadata[metaResponse].(map[string]reflect.Type); ok {
		status := op.DefaultStatus
		if status == 0 {
			status = http.StatusOK
		}
		key := strconv.Itoa(status)
		r := op.Responses[key]
		if r == nil {
			r = &huma.Response{Description: http.StatusText(status)}
			op.Responses[key] = r
		}
		r.Content = map[string]*huma.MediaType{}
		for ct, t := range m {
			r.Content[ct] = &huma.MediaType{Schema: resourceSchema(reg, t)}
		}
	}
}

// resourceSchema returns the schema of t. FHIR resources write their
// resourceType in MarshalJSON, so the reflected schema lacks it (and, being
// closed to extra members, would forbid it); it is added here.
func resourceSchema(reg huma.Registry, t reflect.Type) *huma.Schema {
	s := reg.Schema(t, true, t.Name())
	r, ok := reflect.New(t).Interface().(interface{ ResourceType() string })
	if !ok || s.Ref == "" {
		return s
	}
	def := reg.SchemaFromRef(s.Ref)
	if def == nil || def.Properties == nil || def.Properties["resourceType"] != nil {
		return s
	}
	def.Properties["resourceType"] = &huma.Schema{Type: "string", Enum: []any{r.ResourceType()}}
	def.Required = append(def.Required, "resourceType")
	def.Description = "FHIR R4 " + r.ResourceType() + " (https://hl7.org/fhir/R4/" + strings.ToLower(r.ResourceType()) + ".html)"
	def.PrecomputeMessages()
	return s
}
