package fhir

import "ward/internal/directory"

// PractitionerFromUser renders a directory user who holds a practitioner
// role (directory.PractitionerRoles: clinicians and staff) as a
// Practitioner: identifiers, name, telecom, gender, photo, communication
// and meta as on Patient, with active false once the account is deleted.
// Demographics that describe patients (birth date, race, ethnicity,
// deceased, general practitioner) are left out: they are not the
// practitioner's professional record. Whether u is a practitioner at all is
// the caller's check. base is accepted as by every mapper, though a
// Practitioner carries no references to resolve under it.
func PractitionerFromUser(u *directory.User, ids []directory.Identifier, base string) *Practitioner {
	p := &Practitioner{
		DomainResource: DomainResource{
			ID:   formatID(u.ID),
			Meta: metaFor(u.Version, u.UpdatedAt),
		},
		Active: boolPtr(u.Active()),
		Gender: u.Gender,
	}
	if u.Timezone != "" {
		p.Extension = []Extension{{URL: ExtTimezone, ValueCode: u.Timezone}}
	}
	for _, id := range ids {
		p.Identifier = append(p.Identifier, Identifier{System: id.System, Value: id.Value, Use: id.Use})
	}
	if u.GivenName != "" || u.FamilyName != "" {
		n := HumanName{Use: "official", Family: u.FamilyName}
		if u.GivenName != "" {
			n.Given = []string{u.GivenName}
		}
		p.Name = []HumanName{n}
	}
	if u.Email != "" {
		p.Telecom = append(p.Telecom, ContactPoint{System: "email", Value: u.Email, Use: "work"})
	}
	if u.Phone != "" {
		p.Telecom = append(p.Telecom, ContactPoint{System: "phone", Value: u.Phone, Use: "work"})
	}
	if u.AltPhone != "" {
		p.Telecom = append(p.Telecom, ContactPoint{System: "phone", Value: u.AltPhone, Use: altPhoneUse})
	}
	if u.ImageURL != "" {
		p.Photo = []Attachment{{URL: u.ImageURL}}
	}
	if u.Locale != "" {
		p.Communication = []CodeableConcept{{Coding: []Coding{{System: SystemBCP47, Code: u.Locale}}}}
	}
	return p
}
