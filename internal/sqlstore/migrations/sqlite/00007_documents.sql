-- A patient's documents (FHIR DocumentReference with Binary content),
-- SQLite dialect. Keep in step with ../postgres/00007_documents.sql. Times
-- are unix microseconds; codings are JSON text.
--
-- Content is kept either inline (content, blob_key NULL) or in the blob
-- store under blob_key (content NULL); document.Service picks by size.

-- +goose Up
CREATE TABLE documents (
    -- id orders rows for paging and for the bulk-export scan
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- A purged patient takes their documents with them.
    patient_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status       TEXT NOT NULL CHECK (status IN ('current', 'superseded', 'entered-in-error')),
    doc_status   TEXT NOT NULL DEFAULT '' CHECK (doc_status IN ('', 'preliminary', 'final',
                     'amended', 'entered-in-error')),
    type         TEXT NOT NULL DEFAULT '[]',
    category     TEXT NOT NULL DEFAULT '[]',
    description  TEXT NOT NULL DEFAULT '',
    doc_date     INTEGER,
    -- Purging an author or uploader keeps the document.
    author_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    -- exactly as uploaded, so a download answers with it
    content_type TEXT NOT NULL CHECK (content_type <> ''),
    language     TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL DEFAULT '',
    created      INTEGER,
    size         INTEGER NOT NULL CHECK (size >= 0),
    sha1         BLOB NOT NULL,
    sha256       BLOB NOT NULL,
    blob_key     TEXT UNIQUE,
    content      BLOB,
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    deleted_at   INTEGER,
    CHECK (blob_key IS NULL OR content IS NULL)
) STRICT;
-- A patient's documents newest first; also serves the patient_id key.
CREATE INDEX documents_patient ON documents (patient_id, id);
-- _lastUpdated searches and incremental exports.
CREATE INDEX documents_updated ON documents (updated_at);
CREATE INDEX documents_date ON documents (doc_date);
-- The SET NULL keys, so purging a user does not scan the table.
CREATE INDEX documents_author ON documents (author_id);
CREATE INDEX documents_created_by ON documents (created_by);

-- One row per type coding, for token searches on type; the codings
-- themselves (with display) round-trip through documents.type.
CREATE TABLE document_type_codes (
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    system      TEXT NOT NULL,
    code        TEXT NOT NULL
) STRICT;
CREATE INDEX document_type_codes_document ON document_type_codes (document_id);
CREATE INDEX document_type_codes_code ON document_type_codes (code, system);

-- +goose Down
DROP TABLE document_type_codes;
DROP TABLE documents;
