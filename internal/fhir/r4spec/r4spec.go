// Package r4spec carries the HL7 FHIR R4 reference files that ward's tests
// check against (the JSON Schema, the search parameters and the Patient
// compartment), embedded so that a fresh clone needs nothing beside the
// repository. README.md beside this file names their source, version and
// licence. Only tests import this package.
package r4spec

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
)

//go:embed fhir.schema.json.gz search-parameters.json.gz compartmentdefinition-patient.json version.info operation-patient-match.json extension-match-grade.json
var files embed.FS

// The files this package holds, by name.
const (
	SchemaFile             = "fhir.schema.json.gz"
	SearchParametersFile   = "search-parameters.json.gz"
	PatientCompartmentFile = "compartmentdefinition-patient.json"
	// PatientMatchFile is the Patient/$match OperationDefinition.
	PatientMatchFile = "operation-patient-match.json"
	// MatchGradeFile is the match-grade extension, with its code system's
	// codes beside it.
	MatchGradeFile = "extension-match-grade.json"
)

// Open returns the contents of one of the files above, decompressed when the
// file is gzipped. The caller closes it.
func Open(name string) (io.ReadCloser, error) {
	data, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("r4spec: %w", err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("r4spec: gunzip %s: %w", name, err)
	}
	return zr, nil
}
