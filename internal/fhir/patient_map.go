package fhir

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/directory"
)

// Telecom uses for the user's two phone numbers, as the reference system
// writes them.
const (
	phoneUse    = "mobile"
	altPhoneUse = "home"
)

// PatientFromUser renders a directory user as a Patient. ids are the user's
// stored identifiers; orgs are the user's organizations, which become
// generalPractitioner references (R4's successor of careProvider) with the
// first also the managingOrganization. References are relative
// ("Organization/5") when base is "", else absolute under base, for
// resources served outside the FHIR endpoint.
func PatientFromUser(u *directory.User, ids []directory.Identifier, orgs []int64, base string) *Patient {
	p := &Patient{
		DomainResource: DomainResource{
			ID:        formatID(u.ID),
			Meta:      metaFor(u.Version, u.UpdatedAt),
			Extension: userExtensions(u),
		},
		Active:    boolPtr(u.Active()),
		Gender:    u.Gender,
		BirthDate: u.BirthDate,
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
		p.Telecom = append(p.Telecom, ContactPoint{System: "email", Value: u.Email})
	}
	if u.Phone != "" {
		p.Telecom = append(p.Telecom, ContactPoint{System: "phone", Value: u.Phone, Use: phoneUse})
	}
	if u.AltPhone != "" {
		p.Telecom = append(p.Telecom, ContactPoint{System: "phone", Value: u.AltPhone, Use: altPhoneUse})
	}
	if u.DeceasedAt != nil {
		p.DeceasedDateTime = formatInstant(*u.DeceasedAt)
	} else {
		p.DeceasedBoolean = boolPtr(u.Deceased)
	}
	if u.ImageURL != "" {
		p.Photo = []Attachment{{URL: u.ImageURL}}
	}
	if u.Locale != "" {
		p.Communication = []PatientCommunication{{
			Language: CodeableConcept{Coding: []Coding{{System: SystemBCP47, Code: u.Locale}}},
		}}
	}
	for i, org := range orgs {
		if i == 0 {
			p.ManagingOrganization = referenceTo(base, "Organization", org)
		}
		p.GeneralPractitioner = append(p.GeneralPractitioner, *referenceTo(base, "Organization", org))
	}
	if u.GeneralPractitionerID != 0 {
		p.GeneralPractitioner = append(p.GeneralPractitioner, *referenceTo(base, "Practitioner", u.GeneralPractitionerID))
	}
	return p
}

// userExtensions renders the user's coded demographics and time zone.
func userExtensions(u *directory.User) []Extension {
	var exts []Extension
	for _, c := range []struct {
		url   string
		codes []directory.Coding
	}{{ExtRace, u.Races}, {ExtEthnicity, u.Ethnicities}, {ExtIndigenous, u.Indigenous}} {
		if len(c.codes) == 0 {
			continue
		}
		cc := &CodeableConcept{}
		for _, x := range c.codes {
			cc.Coding = append(cc.Coding, Coding{System: x.System, Code: x.Code, Display: x.Display})
		}
		exts = append(exts, Extension{URL: c.url, ValueCodeableConcept: cc})
	}
	if u.Timezone != "" {
		exts = append(exts, Extension{URL: ExtTimezone, ValueCode: u.Timezone})
	}
	return exts
}

// metaFor renders a stored version and change time as Meta; nil when the
// record has neither (not stored yet).
func metaFor(version int64, updated time.Time) *Meta {
	if version == 0 && updated.IsZero() {
		return nil
	}
	m := &Meta{}
	if version != 0 {
		m.VersionID = strconv.FormatInt(version, 10)
	}
	if !updated.IsZero() {
		m.LastUpdated = formatInstant(updated)
	}
	return m
}

// formatInstant renders t as an R4 instant (always with seconds and zone).
func formatInstant(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// ApplyPatient applies the members of p that the client sent (present, from
// PresentFields on the same body) to u: a member that is present replaces
// what was stored, even when null or empty (which clears it); an absent
// member keeps the stored value. Within "extension", each extension URL ward
// knows is its own field: an extension that is listed replaces its field (one
// without a value clears it), one that is not listed keeps it.
//
// All checks run before anything changes, so on error u is untouched. Not
// applied here: "active" (deactivation goes through the directory's audited
// delete and reactivate), "identifier" and organization references (stored
// separately: see PatientIdentifiers and PatientOrganizationIDs), id and meta.
// Elements the directory has no place for (address, maritalStatus, contact,
// ...) are accepted and not stored. base is this server's FHIR base URL
// (see ParseReferenceID).
func ApplyPatient(u *directory.User, p *Patient, present map[string]bool, base string) error {
	if u == nil || p == nil {
		return apperr.New(apperr.Internal, "ApplyPatient: nil user or patient")
	}
	if len(p.ModifierExtension) > 0 {
		// A modifier extension may change the meaning of everything else;
		// ward understands none, so it must not guess.
		return invalidField("Patient.modifierExtension", "modifierExtension is not supported (url %q)", clip(p.ModifierExtension[0].URL))
	}
	next := *u
	if present["name"] {
		next.GivenName, next.FamilyName = namesOf(p.Name)
	}
	if present["telecom"] {
		if err := applyTelecom(&next, p.Telecom); err != nil {
			return err
		}
	}
	if present["gender"] {
		switch p.Gender {
		case "", "male", "female", "other", "unknown":
			next.Gender = p.Gender
		default:
			return invalidField("Patient.gender", "gender must be one of male, female, other, unknown; got %q", clip(p.Gender))
		}
	}
	if present["birthDate"] {
		if p.BirthDate != "" {
			if _, err := time.Parse(time.DateOnly, p.BirthDate); err != nil {
				return invalidField("Patient.birthDate", "birthDate must be a full date (YYYY-MM-DD), got %q", clip(p.BirthDate))
			}
		}
		next.BirthDate = p.BirthDate
	}
	if present["deceasedBoolean"] || present["deceasedDateTime"] {
		if err := applyDeceased(&next, p); err != nil {
			return err
		}
	}
	if present["photo"] {
		next.ImageURL = ""
		for _, a := range p.Photo {
			if a.URL != "" {
				next.ImageURL = a.URL
				break
			}
		}
	}
	if present["communication"] {
		next.Locale = localeOf(p.Communication)
	}
	if present["generalPractitioner"] {
		gp, err := practitionerOf(p.GeneralPractitioner, base)
		if err != nil {
			return err
		}
		next.GeneralPractitionerID = gp
	}
	if present["managingOrganization"] || present["generalPractitioner"] {
		// Organization references are stored apart (PatientOrganizationIDs),
		// but one to another server is refused here too, never ignored.
		if _, err := PatientOrganizationIDs(p, base); err != nil {
			return err
		}
	}
	if present["extension"] {
		if err := applyUserExtensions(&next, p.Extension); err != nil {
			return err
		}
	}
	*u = next
	return nil
}

// namesOf picks the name to store: the official one, else the usual one,
// else the first.
func namesOf(names []HumanName) (given, family string) {
	if len(names) == 0 {
		return "", ""
	}
	pick := names[0]
	for _, use := range []string{"official", "usual"} {
		found := false
		for _, n := range names {
			if n.Use == use {
				pick, found = n, true
				break
			}
		}
		if found {
			break
		}
	}
	return strings.Join(pick.Given, " "), pick.Family
}

// applyTelecom stores the first email, and the phones: the one with use
// "home" is the alternative number, any other the main one; two phones
// without a home use fill main then alternative.
func applyTelecom(u *directory.User, cps []ContactPoint) error {
	u.Email, u.Phone, u.AltPhone = "", "", ""
	var others []string
	for i, cp := range cps {
		if cp.Value == "" {
			continue
		}
		switch cp.System {
		case "email":
			if u.Email == "" {
				u.Email = cp.Value
			}
		case "phone":
			switch {
			case cp.Use == altPhoneUse && u.AltPhone == "":
				u.AltPhone = cp.Value
			case cp.Use != altPhoneUse:
				others = append(others, cp.Value)
			}
		case "fax", "pager", "url", "sms", "other":
			// Not stored: the directory keeps email and two phones only.
		default:
			return invalidField(fmt.Sprintf("Patient.telecom[%d].system", i), "telecom system must be one of phone, fax, email, pager, url, sms, other; got %q", clip(cp.System))
		}
	}
	if len(others) > 0 {
		u.Phone = others[0]
	}
	if u.AltPhone == "" && len(others) > 1 {
		u.AltPhone = others[1]
	}
	return nil
}

// applyDeceased stores the deceased[x] choice; both variants at once is a
// contradiction R4 forbids.
func applyDeceased(u *directory.User, p *Patient) error {
	if p.DeceasedBoolean != nil && p.DeceasedDateTime != "" {
		return invalidField("Patient.deceased", "only one of deceasedBoolean and deceasedDateTime may be given")
	}
	if p.DeceasedDateTime != "" {
		t, err := ParseDateTime(p.DeceasedDateTime)
		if err != nil {
			return invalidField("Patient.deceasedDateTime", "deceasedDateTime %q is not a valid dateTime", clip(p.DeceasedDateTime))
		}
		u.Deceased, u.DeceasedAt = true, &t
		return nil
	}
	u.Deceased = p.DeceasedBoolean != nil && *p.DeceasedBoolean
	u.DeceasedAt = nil
	return nil
}

// ParseDateTime parses an R4 dateTime: YYYY, YYYY-MM, YYYY-MM-DD (taken as
// the start of that period in UTC) or a full timestamp with a zone.
func ParseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly, "2006-01", "2006"} {
		if len(s) != len(layout) && layout != time.RFC3339Nano {
			continue
		}
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1 {
				break
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("fhir: %q is not an R4 dateTime", s)
}

// localeOf returns the locale code of the preferred communication (else the
// first), preferring a BCP-47 coding, then any coding, then the text.
func localeOf(comms []PatientCommunication) string {
	if len(comms) == 0 {
		return ""
	}
	c := comms[0]
	for _, x := range comms {
		if x.Preferred != nil && *x.Preferred {
			c = x
			break
		}
	}
	for _, cd := range c.Language.Coding {
		if cd.System == SystemBCP47 && cd.Code != "" {
			return cd.Code
		}
	}
	for _, cd := range c.Language.Coding {
		if cd.Code != "" {
			return cd.Code
		}
	}
	return c.Language.Text
}

// practitionerOf returns the id of the one Practitioner reference among
// refs (0 for none). Organization references are the user's organizations
// and are read by PatientOrganizationIDs.
func practitionerOf(refs []Reference, base string) (int64, error) {
	var gp int64
	for i, r := range refs {
		expr := fmt.Sprintf("Patient.generalPractitioner[%d]", i)
		switch refType(&r) {
		case "Organization":
			continue
		case "Practitioner":
			if gp != 0 {
				return 0, invalidField(expr, "at most one Practitioner may be the general practitioner")
			}
			id, err := ParseReferenceID(&r, "Practitioner", expr, base)
			if err != nil {
				return 0, err
			}
			gp = id
		default:
			return 0, invalidField(expr, "generalPractitioner must reference Organization/{id} or Practitioner/{id}, got %q", clip(r.Reference))
		}
	}
	return gp, nil
}

// refType returns the resource type a literal reference names ("" when it
// is not a literal type/id reference).
func refType(r *Reference) string {
	s := r.Reference
	if i := strings.Index(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[len(parts)-2]
}

// applyUserExtensions applies each known extension that is listed; an
// unknown URL is refused so that a misspelt URL is not silently dropped.
func applyUserExtensions(u *directory.User, exts []Extension) error {
	for i, e := range exts {
		expr := fmt.Sprintf("Patient.extension[%d]", i)
		switch e.URL {
		case ExtRace, ExtEthnicity, ExtIndigenous:
			codes, err := codingsOf(&e, expr)
			if err != nil {
				return err
			}
			switch e.URL {
			case ExtRace:
				u.Races = codes
			case ExtEthnicity:
				u.Ethnicities = codes
			default:
				u.Indigenous = codes
			}
		case ExtTimezone:
			tz, err := timezoneOf(&e, expr)
			if err != nil {
				return err
			}
			u.Timezone = tz
		default:
			return invalidField(expr+".url", "unsupported Patient extension %q", clip(e.URL))
		}
	}
	return nil
}

// codingsOf reads a coded-demographics extension (valueCodeableConcept);
// no value means "none".
func codingsOf(e *Extension, expr string) ([]directory.Coding, error) {
	if !e.HasValue() {
		return nil, nil
	}
	if e.ValueCodeableConcept == nil {
		return nil, invalidField(expr, "extension %q takes valueCodeableConcept", clip(e.URL))
	}
	var out []directory.Coding
	for j, c := range e.ValueCodeableConcept.Coding {
		if c.Code == "" {
			return nil, invalidField(fmt.Sprintf("%s.valueCodeableConcept.coding[%d].code", expr, j), "coding needs a code")
		}
		out = append(out, directory.Coding{System: c.System, Code: c.Code, Display: c.Display})
	}
	return out, nil
}

// timezoneOf reads the timezone extension in any shape ward accepts and
// checks the name is a known IANA zone.
func timezoneOf(e *Extension, expr string) (string, error) {
	tz := e.ValueCode
	for _, v := range []string{e.ValueString, e.LegacyTimezone} {
		if tz == "" {
			tz = v
		}
	}
	if tz == "" {
		if e.HasValue() {
			return "", invalidField(expr, "timezone extension takes valueCode")
		}
		return "", nil
	}
	// "Local" is the server's own zone, not an IANA name a client can mean.
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" || strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") {
		return "", invalidField(expr, "unknown time zone %q", clip(tz))
	}
	return tz, nil
}

// PatientIdentifiers returns the identifiers p carries, for storing through
// the directory. Each needs a system and a value.
func PatientIdentifiers(p *Patient) ([]directory.Identifier, error) {
	var out []directory.Identifier
	for i, id := range p.Identifier {
		if id.System == "" || id.Value == "" {
			return nil, invalidField(fmt.Sprintf("Patient.identifier[%d]", i), "an identifier needs both system and value")
		}
		out = append(out, directory.Identifier{System: id.System, Value: id.Value, Use: id.Use})
	}
	return out, nil
}

// PatientOrganizationIDs returns the organizations p names: the
// managingOrganization and every Organization reference among
// generalPractitioner, in order and without duplicates; base is this
// server's FHIR base URL (see ParseReferenceID).
func PatientOrganizationIDs(p *Patient, base string) ([]int64, error) {
	var out []int64
	seen := map[int64]bool{}
	add := func(r *Reference, expr string) error {
		id, err := ParseReferenceID(r, "Organization", expr, base)
		if err != nil {
			return err
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
		return nil
	}
	if p.ManagingOrganization != nil {
		if err := add(p.ManagingOrganization, "Patient.managingOrganization"); err != nil {
			return nil, err
		}
	}
	for i := range p.GeneralPractitioner {
		if refType(&p.GeneralPractitioner[i]) != "Organization" {
			continue
		}
		if err := add(&p.GeneralPractitioner[i], fmt.Sprintf("Patient.generalPractitioner[%d]", i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}
