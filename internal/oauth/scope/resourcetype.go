package scope

// IsResourceType reports whether t is a FHIR R4 resource type name (the
// names a resource scope may use, without the wildcard): the webhook
// dispatcher asks it of a subject reference's kind to tell a FHIR
// resource ("Patient/12") from one of ward's own things ("Client/x").
func IsResourceType(t string) bool { return r4Types[t] }
