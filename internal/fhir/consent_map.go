package fhir

import (
	"time"

	"ward/internal/directory"
)

// Codes a Consent from the directory carries.
const (
	// SystemConsentAction is R4's consent action code system.
	SystemConsentAction = "http://terminology.hl7.org/CodeSystem/consentaction"
	// SystemV3ParticipationType holds the provision actor roles.
	SystemV3ParticipationType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	// ConsentCategoryLOINC is the LOINC code R4's examples use for a
	// patient's consent document.
	ConsentCategoryLOINC = "59284-0"
)

// Extensions for the consent options the reference system keeps and R4
// has no element for.
const (
	ExtConsentStaffEditable    = "http://us.truenth.org/fhir/StructureDefinition/consent-staff-editable"
	ExtConsentIncludeInReports = "http://us.truenth.org/fhir/StructureDefinition/consent-include-in-reports"
	ExtConsentSendReminders    = "http://us.truenth.org/fhir/StructureDefinition/consent-send-reminders"
)

// ConsentFromDirectory renders a directory consent (a patient's agreement
// to share data with an organization) as an R4 Consent: scope
// patient-privacy, the patient and the organization as references, the
// acceptance as dateTime, and one permit provision whose period runs from
// acceptance to expiry with the organization as the recipient allowed
// access. Status is "active" while the consent is consented and not
// deleted, "inactive" once suspended or deleted. Expiry is not judged here
// (the mapping has no clock): it shows as provision.period.end; ConsentAt
// also turns an expired consent inactive. base is as for PatientFromUser.
func ConsentFromDirectory(c *directory.Consent, base string) *Consent {
	return ConsentAt(c, base, time.Time{})
}

// ConsentAt is ConsentFromDirectory with the status judged at now, as
// directory.Consent.Valid does: only a consent that counts for access at
// now is active. A zero now skips the expiry check.
func ConsentAt(c *directory.Consent, base string, now time.Time) *Consent {
	active := c.Status == directory.ConsentConsented && c.DeletedAt == nil
	if !now.IsZero() {
		active = c.Valid(now)
	}
	status := "inactive"
	if active {
		status = "active"
	}
	org := referenceTo(base, "Organization", c.OrganizationID)
	out := &Consent{
		DomainResource: DomainResource{
			ID: formatID(c.ID),
			Extension: []Extension{
				{URL: ExtConsentStaffEditable, ValueBoolean: boolPtr(c.StaffEditable)},
				{URL: ExtConsentIncludeInReports, ValueBoolean: boolPtr(c.IncludeInReports)},
				{URL: ExtConsentSendReminders, ValueBoolean: boolPtr(c.SendReminders)},
			},
		},
		Status: status,
		Scope:  CodeableConcept{Coding: []Coding{{System: SystemConsentScope, Code: "patient-privacy", Display: "Privacy Consent"}}},
		Category: []CodeableConcept{{Coding: []Coding{{System: "http://loinc.org", Code: ConsentCategoryLOINC,
			Display: "Patient Consent"}}}},
		Patient:      referenceTo(base, "Patient", c.UserID),
		Organization: []Reference{*org},
		// R4's ppc-1: a consent names a policy or a policy rule; the
		// patient opted in to sharing.
		PolicyRule: &CodeableConcept{Coding: []Coding{{System: SystemV3ActCode, Code: "OPTIN"}}},
		Provision: &ConsentProvision{
			Type: "permit",
			Actor: []ConsentProvisionActor{{
				Role:      CodeableConcept{Coding: []Coding{{System: SystemV3ParticipationType, Code: "IRCP", Display: "information recipient"}}},
				Reference: *org,
			}},
			Action: []CodeableConcept{{Coding: []Coding{{System: SystemConsentAction, Code: "access"}}}},
		},
	}
	if !c.AcceptanceDate.IsZero() {
		out.DateTime = formatInstant(c.AcceptanceDate)
	}
	if !c.AcceptanceDate.IsZero() || !c.ExpiresAt.IsZero() {
		out.Provision.Period = &Period{}
		if !c.AcceptanceDate.IsZero() {
			out.Provision.Period.Start = formatInstant(c.AcceptanceDate)
		}
		if !c.ExpiresAt.IsZero() {
			out.Provision.Period.End = formatInstant(c.ExpiresAt)
		}
	}
	if c.AgreementURL != "" {
		out.SourceAttachment = &Attachment{URL: c.AgreementURL}
		out.Policy = []ConsentPolicy{{URI: c.AgreementURL}}
	}
	return out
}
