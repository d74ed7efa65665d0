package r4spec

import (
	"encoding/json"
	"io"
	"testing"
)

// Each file opens and is the JSON its README says it is.
func TestFilesAreJSON(t *testing.T) {
	for name, want := range map[string]string{
		SchemaFile:             "",
		SearchParametersFile:   "Bundle",
		PatientCompartmentFile: "CompartmentDefinition",
	} {
		r, err := Open(name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var doc struct {
			ResourceType string `json:"resourceType"`
			OneOf        []any  `json:"oneOf"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc.ResourceType != want {
			t.Errorf("%s: resourceType %q, want %q", name, doc.ResourceType, want)
		}
		if name == SchemaFile && len(doc.OneOf) < 100 {
			t.Errorf("%s: %d resource types in oneOf, want the whole R4 set", name, len(doc.OneOf))
		}
	}
	if _, err := Open("missing.json"); err == nil {
		t.Error("Open of a file the package does not hold: no error")
	}
}
