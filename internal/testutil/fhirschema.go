package testutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"ward/internal/fhir/r4spec"
)

// fhirSchemaURL is the id the official schema gives itself; its $refs are
// all "#/definitions/...", relative to it.
const fhirSchemaURL = "http://hl7.org/fhir/json-schema/4.0"

// FHIRValidator validates resources against the official R4 JSON Schema.
// It compiles one definition per resource type on first use; it is safe for
// concurrent use.
type FHIRValidator struct {
	mu        sync.Mutex
	compiler  *jsonschema.Compiler
	resources map[string]bool // resource types the schema's root oneOf lists
	compiled  map[string]*jsonschema.Schema
}

// The schema is large (every R4 resource); parse it once per test binary.
// This is the test-only cache of an immutable file, not application state.
var fhirSchema struct {
	once sync.Once
	v    *FHIRValidator
	err  error
}

// FHIRSchema returns the shared validator, built from the schema the
// repository carries (internal/fhir/r4spec).
func FHIRSchema(t testing.TB) *FHIRValidator {
	t.Helper()
	fhirSchema.once.Do(func() {
		fhirSchema.v, fhirSchema.err = loadFHIRSchema()
	})
	if err := fhirSchema.err; err != nil {
		t.Fatalf("FHIR R4 schema: %v", err)
	}
	return fhirSchema.v
}

// ValidateFHIR marshals v (unless it is already JSON bytes) and reports any
// schema violation as a test error.
func ValidateFHIR(t testing.TB, v any) {
	t.Helper()
	var data []byte
	switch x := v.(type) {
	case []byte:
		data = x
	case json.RawMessage:
		data = x
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			t.Fatalf("marshal %T: %v", v, err)
		}
	}
	if err := FHIRSchema(t).Validate(data); err != nil {
		t.Errorf("not valid FHIR R4: %v\nresource: %s", err, data)
	}
}

// Validate checks data, one resource's JSON, against the schema definition
// named by its resourceType.
func (v *FHIRValidator) Validate(data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("parse resource: %w", err)
	}
	obj, ok := inst.(map[string]any)
	if !ok {
		return errors.New("a resource must be a JSON object")
	}
	rt, _ := obj["resourceType"].(string)
	sch, err := v.schemaFor(rt)
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s: %w", rt, err)
	}
	return nil
}

// schemaFor compiles (once) the definition of resource type rt.
func (v *FHIRValidator) schemaFor(rt string) (*jsonschema.Schema, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.resources[rt] {
		return nil, fmt.Errorf("resourceType %q is not an R4 resource", rt)
	}
	if s, ok := v.compiled[rt]; ok {
		return s, nil
	}
	s, err := v.compiler.Compile(fhirSchemaURL + "#/definitions/" + rt)
	if err != nil {
		return nil, fmt.Errorf("compile schema for %s: %w", rt, err)
	}
	v.compiled[rt] = s
	return s, nil
}

// loadFHIRSchema reads the embedded schema and indexes its resource types.
func loadFHIRSchema() (*FHIRValidator, error) {
	const path = r4spec.SchemaFile
	zr, err := r4spec.Open(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	doc, err := jsonschema.UnmarshalJSON(zr)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: schema is not an object", path)
	}
	resources := map[string]bool{}
	oneOf, _ := root["oneOf"].([]any)
	for _, item := range oneOf {
		m, _ := item.(map[string]any)
		ref, _ := m["$ref"].(string)
		if name, ok := strings.CutPrefix(ref, "#/definitions/"); ok {
			resources[name] = true
		}
	}
	if len(resources) == 0 {
		return nil, fmt.Errorf("%s: no resource types in the schema's oneOf", path)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft6)
	if err := c.AddResource(fhirSchemaURL, doc); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return &FHIRValidator{compiler: c, resources: resources, compiled: map[string]*jsonschema.Schema{}}, nil
}
