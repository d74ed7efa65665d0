package fhir

import (
	"strconv"
	"strings"

	"ward/internal/apperr"
	"ward/internal/directory"
)

// Group ids on the wire: "org-{id}" for an organization's Group and
// "practitioner-{id}" for a practitioner's (valid FHIR ids, and never a
// bare number, so they cannot be mistaken for a stored row).
const (
	groupOrgPrefix          = "org-"
	groupPractitionerPrefix = "practitioner-"
)

// GroupID is ref's id on the wire.
func GroupID(ref directory.GroupRef) string {
	prefix := groupOrgPrefix
	if ref.Kind == directory.GroupPractitioner {
		prefix = groupPractitionerPrefix
	}
	return prefix + strconv.FormatInt(ref.ID, 10)
}

// ParseGroupID reads a Group id written by GroupID. Anything else (another
// prefix, a non-canonical or non-positive number) is Invalid, which a read
// answers as not found.
func ParseGroupID(s string) (directory.GroupRef, error) {
	var ref directory.GroupRef
	var num string
	switch {
	case strings.HasPrefix(s, groupOrgPrefix):
		ref.Kind, num = directory.GroupOrganization, s[len(groupOrgPrefix):]
	case strings.HasPrefix(s, groupPractitionerPrefix):
		ref.Kind, num = directory.GroupPractitioner, s[len(groupPractitionerPrefix):]
	default:
		return directory.GroupRef{}, apperr.New(apperr.Invalid, "group id must be org-{id} or practitioner-{id}")
	}
	id, ok := positiveID(num)
	if !ok {
		return directory.GroupRef{}, apperr.New(apperr.Invalid, "group id must be org-{id} or practitioner-{id}")
	}
	ref.ID = id
	return ref, nil
}

// GroupFor renders a computed Group: an enumerated (actual) group of
// persons with size as quantity, one member per patient id in members (the
// caller may pass none, for a searchset entry), and the organization or
// practitioner it is built from as managingEntity and as a characteristic,
// so that a client can tell what the members share without knowing ward's
// id scheme. The Group has no meta.versionId: it is computed at every read,
// not stored. base is as for PatientFromUser.
func GroupFor(ref directory.GroupRef, name string, size int, members []int64, base string) *Group {
	n := int64(size)
	g := &Group{
		DomainResource: DomainResource{ID: GroupID(ref)},
		Active:         boolPtr(true),
		Type:           "person",
		Actual:         true,
		Name:           name,
		Quantity:       &n,
	}
	var entity *Reference
	var code CodeableConcept
	if ref.Kind == directory.GroupPractitioner {
		entity = referenceTo(base, "Practitioner", ref.ID)
		// The patients' general practitioner (R4 Patient.generalPractitioner).
		code = CodeableConcept{Text: "general practitioner"}
	} else {
		entity = referenceTo(base, "Organization", ref.ID)
		code = CodeableConcept{Text: "consented to share data with the organization or one below it"}
	}
	entity.Display = name
	g.ManagingEntity = entity
	g.Characteristic = []GroupCharacteristic{{Code: code, ValueReference: entity}}
	for _, id := range members {
		g.Member = append(g.Member, GroupMember{Entity: *referenceTo(base, "Patient", id)})
	}
	return g
}
