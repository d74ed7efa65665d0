package rest

// resourceTypes is the table Mount routes from and the CapabilityStatement
// is built from, in the statement's order.
func (h *Handler) resourceTypes() []*resourceType {
	types := []*resourceType{
		h.patientType(),
		h.practitionerType(),
		h.organizationType(),
		h.groupType(),
		h.observationType(),
		h.procedureType(),
		h.consentType(),
		h.auditEventType(),
		h.documentReferenceType(),
		h.binaryType(),
	}
	if h.d.Workflow != nil {
		types = append(types, h.taskType())
	}
	return types
}
