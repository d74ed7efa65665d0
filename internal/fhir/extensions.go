package fhir

// Extension URLs and code systems ward reads and writes. The race, ethnicity,
// indigenous-status, timezone and languages URLs are the ones the reference
// system (seed 001) uses, so existing clients keep working. The reference
// sent the organization coding options as non-standard top-level members,
// which R4 forbids; ward carries them as boolean extensions under the
// reference system's own StructureDefinition namespace instead.
const (
	// ExtRace holds a user's races as valueCodeableConcept.
	ExtRace = "http://hl7.org/fhir/StructureDefinition/us-core-race"
	// ExtEthnicity holds a user's ethnicities as valueCodeableConcept.
	ExtEthnicity = "http://hl7.org/fhir/StructureDefinition/us-core-ethnicity"
	// ExtIndigenous holds a user's indigenous status as valueCodeableConcept.
	ExtIndigenous = "http://us.truenth.org/fhir/StructureDefinition/AU-NHHD-METeOR-id-291036"
	// ExtTimezone holds an IANA time zone name as valueCode (the reference's
	// {"timezone": ...} shape is accepted on input).
	ExtTimezone = "http://hl7.org/fhir/StructureDefinition/user-timezone"
	// ExtLanguages holds an organization's default locale as a
	// valueCodeableConcept coding in SystemBCP47.
	ExtLanguages = "http://hl7.org/fhir/valueset/languages"

	// ExtUseSpecificCodings says whether an organization sets its own
	// race/ethnicity/indigenous options or inherits them (valueBoolean).
	ExtUseSpecificCodings = "http://us.truenth.org/fhir/StructureDefinition/use_specific_codings"
	// ExtRaceCodings says whether an organization captures race (valueBoolean).
	ExtRaceCodings = "http://us.truenth.org/fhir/StructureDefinition/race_codings"
	// ExtEthnicityCodings says whether an organization captures ethnicity (valueBoolean).
	ExtEthnicityCodings = "http://us.truenth.org/fhir/StructureDefinition/ethnicity_codings"
	// ExtIndigenousCodings says whether an organization captures indigenous status (valueBoolean).
	ExtIndigenousCodings = "http://us.truenth.org/fhir/StructureDefinition/indigenous_codings"

	// SystemBCP47 is the code system of locale codes (Patient.communication).
	SystemBCP47 = "urn:ietf:bcp:47"
)

// findExtension returns the first extension with url, or nil.
func findExtension(exts []Extension, url string) *Extension {
	for i := range exts {
		if exts[i].URL == url {
			return &exts[i]
		}
	}
	return nil
}
