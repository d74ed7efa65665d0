// Package document is a patient's documents as ward keeps them: one
// DocumentReference (what the document is, whose, when, by whom) and its
// content, the bytes a client downloads as a Binary. Small content lives in
// the database row; larger content is streamed to the blob store and the
// row names its key. The package holds the plain types, their validation,
// the Store contract and the Service that checks check_role on the patient,
// streams uploads through a size limit while hashing them, and audits every
// write in the same transaction. It knows nothing of HTTP, SQL or FHIR JSON;
// internal/fhir maps Document to DocumentReference and Binary.
package document
