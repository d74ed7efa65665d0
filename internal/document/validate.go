package document

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"ward/internal/apperr"
	"ward/internal/blob"
)

// Bounds on what one document's metadata may carry, so a single request
// cannot write an unbounded row.
const (
	MaxCodings     = 20
	MaxStringBytes = 4096
	// MaxLanguageLen bounds a BCP-47 tag (RFC 5646 suggests 35 suffices).
	MaxLanguageLen = 35
)

// problems collects every validation problem, so the caller hears about all
// of them at once.
type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return apperr.New(apperr.Invalid, "invalid document: %s", strings.Join(p, "; "))
}

func checkText(p *problems, field, s string) {
	if len(s) > MaxStringBytes {
		p.add(field, "longer than %d bytes", MaxStringBytes)
	}
	if !utf8.ValidString(s) {
		p.add(field, "not valid UTF-8")
	}
}

func checkCodings(p *problems, field string, cs []Coding) {
	if len(cs) > MaxCodings {
		p.add(field, "more than %d codings", MaxCodings)
		return
	}
	for i, c := range cs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(c.Code) == "" {
			p.add(f+".code", "required")
		}
		checkText(p, f+".system", c.System)
		checkText(p, f+".code", c.Code)
		checkText(p, f+".display", c.Display)
	}
}

// validLanguage accepts the shape of a BCP-47 tag: subtags of 1 to 8
// letters or digits separated by '-', the first made of letters.
func validLanguage(s string) bool {
	if s == "" || len(s) > MaxLanguageLen {
		return false
	}
	for i, sub := range strings.Split(s, "-") {
		if len(sub) == 0 || len(sub) > 8 {
			return false
		}
		for _, c := range sub {
			letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
			if !letter && (i == 0 || !('0' <= c && c <= '9')) {
				return false
			}
		}
	}
	return true
}

// Validate checks the metadata of d that a caller supplies: patient,
// statuses, codings, texts, content type and language. It does not look at
// the bookkeeping fields or the content's size and hashes, which the
// Service computes.
func Validate(d *Document) error {
	var p problems
	if d.PatientID <= 0 {
		p.add("patient", "required")
	}
	if !slices.Contains(Statuses, d.Status) {
		p.add("status", "must be one of %s", strings.Join(Statuses, ", "))
	}
	if d.DocStatus != "" && !slices.Contains(DocStatuses, d.DocStatus) {
		p.add("docStatus", "must be one of %s", strings.Join(DocStatuses, ", "))
	}
	checkCodings(&p, "type", d.Type)
	checkCodings(&p, "category", d.Category)
	checkText(&p, "description", d.Description)
	checkText(&p, "title", d.Title)
	if d.AuthorID < 0 {
		p.add("author", "must be a user id")
	}
	if d.ContentType == "" {
		p.add("contentType", "required")
	} else if err := blob.ValidateContentType(d.ContentType); err != nil {
		p.add("contentType", "must be a type/subtype media type in printable ASCII of at most %d bytes",
			blob.MaxContentTypeLen)
	}
	if d.Language != "" && !validLanguage(d.Language) {
		p.add("language", "must be a BCP-47 language tag")
	}
	return p.err()
}
