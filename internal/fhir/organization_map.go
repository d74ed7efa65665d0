package fhir

import (
	"fmt"

	"ward/internal/directory"
)

// OrganizationFromDirectory renders a directory organization. partOf is a
// reference to the parent, relative when base is "" and absolute under base
// otherwise; the coding options are always written, since false is as
// meaningful as true.
func OrganizationFromDirectory(o *directory.Organization, base string) *Organization {
	out := &Organization{
		DomainResource: DomainResource{
			ID:   formatID(o.ID),
			Meta: metaFor(o.Version, o.UpdatedAt),
		},
		Name: o.Name,
	}
	if o.PartOfID != 0 {
		out.PartOf = referenceTo(base, "Organization", o.PartOfID)
	}
	for _, id := range o.Identifiers {
		out.Identifier = append(out.Identifier, Identifier{System: id.System, Value: id.Value, Use: id.Use})
	}
	if len(o.Type) > 0 {
		cc := CodeableConcept{}
		for _, c := range o.Type {
			cc.Coding = append(cc.Coding, Coding{System: c.System, Code: c.Code, Display: c.Display})
		}
		out.Type = []CodeableConcept{cc}
	}
	for _, t := range o.Telecom {
		out.Telecom = append(out.Telecom, ContactPoint{System: t.System, Value: t.Value, Use: t.Use})
	}
	for _, a := range o.Addresses {
		out.Address = append(out.Address, Address{
			Use: a.Use, Type: a.Type, Text: a.Text, Line: a.Line, City: a.City,
			District: a.District, State: a.State, PostalCode: a.PostalCode, Country: a.Country,
		})
	}
	if o.Timezone != "" {
		out.Extension = append(out.Extension, Extension{URL: ExtTimezone, ValueCode: o.Timezone})
	}
	if o.DefaultLocale != "" {
		out.Extension = append(out.Extension, Extension{URL: ExtLanguages, ValueCodeableConcept: &CodeableConcept{
			Coding: []Coding{{System: SystemBCP47, Code: o.DefaultLocale}},
		}})
	}
	out.Extension = append(out.Extension,
		Extension{URL: ExtUseSpecificCodings, ValueBoolean: boolPtr(o.Coding.UseSpecificCodings)},
		Extension{URL: ExtRaceCodings, ValueBoolean: boolPtr(o.Coding.RaceCodings)},
		Extension{URL: ExtEthnicityCodings, ValueBoolean: boolPtr(o.Coding.EthnicityCodings)},
		Extension{URL: ExtIndigenousCodings, ValueBoolean: boolPtr(o.Coding.IndigenousCodings)},
	)
	return out
}

// ToDirectoryOrganization reads an Organization from a client into a
// directory organization (ID 0 when the body has no id). partOf must be a
// literal Organization/{id} reference; an unknown extension URL or any
// modifierExtension is refused. Elements the directory has no place for
// (alias, contact, endpoint, text) are accepted and not stored. Missing
// coding options are false. Errors are apperr.Invalid naming the element.
// partOf is read by ParseReferenceID against base, this server's FHIR base
// URL, so a reference to another server is refused.
func ToDirectoryOrganization(o *Organization, base string) (*directory.Organization, error) {
	if len(o.ModifierExtension) > 0 {
		return nil, invalidField("Organization.modifierExtension", "modifierExtension is not supported (url %q)", clip(o.ModifierExtension[0].URL))
	}
	out := &directory.Organization{Name: o.Name}
	if o.ID != "" {
		id, err := parseID(o.ID)
		if err != nil {
			return nil, invalidField("Organization.id", "id must be a positive integer, got %q", clip(o.ID))
		}
		out.ID = id
	}
	if o.PartOf != nil {
		parent, err := ParseReferenceID(o.PartOf, "Organization", "Organization.partOf", base)
		if err != nil {
			return nil, err
		}
		if parent == out.ID {
			return nil, invalidField("Organization.partOf", "an organization cannot be part of itself")
		}
		out.PartOfID = parent
	}
	for i, id := range o.Identifier {
		if id.System == "" || id.Value == "" {
			return nil, invalidField(fmt.Sprintf("Organization.identifier[%d]", i), "an identifier needs both system and value")
		}
		out.Identifiers = append(out.Identifiers, directory.Identifier{System: id.System, Value: id.Value, Use: id.Use})
	}
	for i, cc := range o.Type {
		for j, c := range cc.Coding {
			if c.Code == "" {
				return nil, invalidField(fmt.Sprintf("Organization.type[%d].coding[%d].code", i, j), "coding needs a code")
			}
			out.Type = append(out.Type, directory.Coding{System: c.System, Code: c.Code, Display: c.Display})
		}
	}
	for _, t := range o.Telecom {
		out.Telecom = append(out.Telecom, directory.ContactPoint{System: t.System, Value: t.Value, Use: t.Use})
	}
	for _, a := range o.Address {
		out.Addresses = append(out.Addresses, directory.Address{
			Use: a.Use, Type: a.Type, Text: a.Text, Line: a.Line, City: a.City,
			District: a.District, State: a.State, PostalCode: a.PostalCode, Country: a.Country,
		})
	}
	if err := applyOrganizationExtensions(out, o.Extension); err != nil {
		return nil, err
	}
	return out, nil
}

// applyOrganizationExtensions reads the timezone, default locale and coding
// option extensions.
func applyOrganizationExtensions(out *directory.Organization, exts []Extension) error {
	for i := range exts {
		e := &exts[i]
		expr := fmt.Sprintf("Organization.extension[%d]", i)
		switch e.URL {
		case ExtTimezone:
			tz, err := timezoneOf(e, expr)
			if err != nil {
				return err
			}
			out.Timezone = tz
		case ExtLanguages:
			loc, err := localeExtension(e, expr)
			if err != nil {
				return err
			}
			out.DefaultLocale = loc
		case ExtUseSpecificCodings, ExtRaceCodings, ExtEthnicityCodings, ExtIndigenousCodings:
			if e.HasValue() && e.ValueBoolean == nil {
				return invalidField(expr, "extension %q takes valueBoolean", e.URL)
			}
			v := e.ValueBoolean != nil && *e.ValueBoolean
			switch e.URL {
			case ExtUseSpecificCodings:
				out.Coding.UseSpecificCodings = v
			case ExtRaceCodings:
				out.Coding.RaceCodings = v
			case ExtEthnicityCodings:
				out.Coding.EthnicityCodings = v
			default:
				out.Coding.IndigenousCodings = v
			}
		default:
			return invalidField(expr+".url", "unsupported Organization extension %q", clip(e.URL))
		}
	}
	return nil
}

// localeExtension reads a locale from the languages extension: a BCP-47
// coding, else any coding, else a plain code.
func localeExtension(e *Extension, expr string) (string, error) {
	if cc := e.ValueCodeableConcept; cc != nil {
		for _, c := range cc.Coding {
			if c.System == SystemBCP47 && c.Code != "" {
				return c.Code, nil
			}
		}
		for _, c := range cc.Coding {
			if c.Code != "" {
				return c.Code, nil
			}
		}
		return "", nil
	}
	if e.ValueCode != "" {
		return e.ValueCode, nil
	}
	if e.HasValue() {
		return "", invalidField(expr, "languages extension takes valueCodeableConcept")
	}
	return "", nil
}

// ApplyOrganization is an update in the reference's update_from_fhir style:
// a top-level element that is present in the body (present, from
// PresentFields) replaces what was stored, an absent one keeps it; each
// extension URL counts as its own element, as for Patient. So a PUT of just
// an identifier list adds a shortcut alias without erasing the name, as
// seed 001 documents. cur is not modified; errors are apperr.Invalid.
func ApplyOrganization(cur *directory.Organization, o *Organization, present map[string]bool, base string) (*directory.Organization, error) {
	upd, err := ToDirectoryOrganization(o, base)
	if err != nil {
		return nil, err
	}
	out := *cur
	if present["name"] {
		out.Name = upd.Name
	}
	if present["partOf"] {
		out.PartOfID = upd.PartOfID
	}
	if present["identifier"] {
		out.Identifiers = upd.Identifiers
	}
	if present["type"] {
		out.Type = upd.Type
	}
	if present["telecom"] {
		out.Telecom = upd.Telecom
	}
	if present["address"] {
		out.Addresses = upd.Addresses
	}
	for _, e := range o.Extension {
		switch e.URL {
		case ExtTimezone:
			out.Timezone = upd.Timezone
		case ExtLanguages:
			out.DefaultLocale = upd.DefaultLocale
		case ExtUseSpecificCodings:
			out.Coding.UseSpecificCodings = upd.Coding.UseSpecificCodings
		case ExtRaceCodings:
			out.Coding.RaceCodings = upd.Coding.RaceCodings
		case ExtEthnicityCodings:
			out.Coding.EthnicityCodings = upd.Coding.EthnicityCodings
		case ExtIndigenousCodings:
			out.Coding.IndigenousCodings = upd.Coding.IndigenousCodings
		}
	}
	return &out, nil
}
