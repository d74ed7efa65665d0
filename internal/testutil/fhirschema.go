package testutil

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// EnvFHIRDir overrides where the FHIR R4 reference data is found (by default
// ../shared/fhir beside the module root).
const EnvFHIRDir = "WARD_FHIR_DIR"

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
	dir  string
	err  error
}

// FHIRSchema returns the shared validator. When the reference data is
// missing it fails the test under CI=true and skips it elsewhere, saying why.
func FHIRSchema(t testing.TB) *FHIRValidator {
	t.Helper()
	fhirSchema.once.Do(func() {
		fhirSchema.dir, fhirSchema.err = fhirDir()
		if fhirSchema.err == nil {
			fhirSchema.v, fhirSchema.err = loadFHIRSchema(filepath.Join(fhirSchema.dir, "fhir.schema.json.gz"))
		}
	})
	if err := fhirSchema.err; err != nil {
		if errors.Is(err, os.ErrNotExist) && !InCI() {
			t.Skipf("FHIR R4 schema not available (%v); set %s or provide ../shared/fhir", err, EnvFHIRDir)
		}
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

// loadFHIRSchema reads the gzipped schema and indexes its resource types.
func loadFHIRSchema(path string) (*FHIRValidator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("gunzip %s: %w", path, err)
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

// fhirDir finds the FHIR reference data: $WARD_FHIR_DIR, else ../shared/fhir
// beside the directory holding go.mod (tests run in their package folder).
func fhirDir() (string, error) {
	if d := os.Getenv(EnvFHIRDir); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "fhir")
			if _, err := os.Stat(d); err != nil {
				return "", fmt.Errorf("FHIR reference data at %s: %w", d, err)
			}
			return d, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod above %s: %w", wd, os.ErrNotExist)
		}
	}
}
