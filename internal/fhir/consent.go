package fhir

import "encoding/json"

// Consent is the R4 Consent resource: a patient's choice to permit or deny
// actions (sharing data with an organization, taking part in research...).
type Consent struct {
	DomainResource

	Identifier       []Identifier          `json:"identifier,omitempty"`
	Status           string                `json:"status"` // draft | proposed | active | rejected | inactive | entered-in-error
	Scope            CodeableConcept       `json:"scope"`
	Category         []CodeableConcept     `json:"category,omitempty"` // at least one in R4
	Patient          *Reference            `json:"patient,omitempty"`
	DateTime         string                `json:"dateTime,omitempty"`
	Performer        []Reference           `json:"performer,omitempty"`
	Organization     []Reference           `json:"organization,omitempty"`
	SourceAttachment *Attachment           `json:"sourceAttachment,omitempty"`
	SourceReference  *Reference            `json:"sourceReference,omitempty"`
	Policy           []ConsentPolicy       `json:"policy,omitempty"`
	PolicyRule       *CodeableConcept      `json:"policyRule,omitempty"`
	Verification     []ConsentVerification `json:"verification,omitempty"`
	Provision        *ConsentProvision     `json:"provision,omitempty"`
}

// ConsentPolicy names a policy the consent is made under.
type ConsentPolicy struct {
	Authority string `json:"authority,omitempty"`
	URI       string `json:"uri,omitempty"`
}

// ConsentVerification records that the consent was verified with the
// patient or a proxy.
type ConsentVerification struct {
	Verified         bool       `json:"verified"`
	VerifiedWith     *Reference `json:"verifiedWith,omitempty"`
	VerificationDate string     `json:"verificationDate,omitempty"`
}

// ConsentProvision is a rule of the consent, with exceptions nested in
// Provision.
type ConsentProvision struct {
	Type          string                  `json:"type,omitempty"` // deny | permit
	Period        *Period                 `json:"period,omitempty"`
	Actor         []ConsentProvisionActor `json:"actor,omitempty"`
	Action        []CodeableConcept       `json:"action,omitempty"`
	SecurityLabel []Coding                `json:"securityLabel,omitempty"`
	Purpose       []Coding                `json:"purpose,omitempty"`
	Class         []Coding                `json:"class,omitempty"`
	Code          []CodeableConcept       `json:"code,omitempty"`
	DataPeriod    *Period                 `json:"dataPeriod,omitempty"`
	Data          []ConsentProvisionData  `json:"data,omitempty"`
	Provision     []ConsentProvision      `json:"provision,omitempty"`
}

// ConsentProvisionActor is who the provision applies to, in which role.
type ConsentProvisionActor struct {
	Role      CodeableConcept `json:"role"`
	Reference Reference       `json:"reference"`
}

// ConsentProvisionData is a resource the provision controls.
type ConsentProvisionData struct {
	Meaning   string    `json:"meaning"` // instance | related | dependents | authoredby
	Reference Reference `json:"reference"`
}

// Code systems of Consent.scope and Consent.policyRule.
const (
	// SystemConsentScope is R4's consent scope code system
	// (adr | research | patient-privacy | treatment).
	SystemConsentScope = "http://terminology.hl7.org/CodeSystem/consentscope"
	// SystemV3ActCode is HL7 v3 ActCode, which holds the policy rules
	// (OPTIN, OPTOUT...).
	SystemV3ActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
)

// ResourceType returns "Consent".
func (Consent) ResourceType() string { return "Consent" }

// consentWire is Consent without its JSON methods, for the codec below.
type consentWire Consent

// MarshalJSON writes the resource with its resourceType first.
func (c Consent) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		consentWire
	}{"Consent", consentWire(c)})
}

// UnmarshalJSON decodes strictly, as DecodeConsent does.
func (c *Consent) UnmarshalJSON(data []byte) error {
	d, err := DecodeConsent(data)
	if err != nil {
		return err
	}
	*c = *d
	return nil
}

// DecodeConsent decodes a Consent with the same strictness as DecodePatient.
func DecodeConsent(data []byte) (*Consent, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		consentWire
	}
	if err := decodeStrict(data, "Consent", &w); err != nil {
		return nil, err
	}
	c := Consent(w.consentWire)
	if c.SourceAttachment != nil {
		if err := checkBase64("Consent.sourceAttachment.data", c.SourceAttachment.Data); err != nil {
			return nil, err
		}
	}
	if err := checkChoice("Consent.source[x]",
		choice{"sourceAttachment", c.SourceAttachment != nil},
		choice{"sourceReference", c.SourceReference != nil},
	); err != nil {
		return nil, err
	}
	return &c, nil
}
