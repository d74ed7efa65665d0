package directory

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"ward/internal/apperr"
	"ward/internal/secrets"
)

// Password policy. The upper bound keeps a hostile caller from making the
// server hash megabytes with argon2id.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 1024
)

// Field size limits, so nothing unbounded reaches the database.
const (
	maxNameLength  = 255
	maxShortField  = 255
	maxURLLength   = 2048
	maxCatchments  = 1000
	maxProfiles    = 100
	maxCodingCount = 50
)

// ValidGender reports whether g is a FHIR administrative gender code or
// empty (unknown to us).
func ValidGender(g string) bool {
	switch g {
	case "", "male", "female", "other", "unknown":
		return true
	}
	return false
}

// ValidateEmail accepts a bare address ("a@example.org") and rejects display
// name forms ("Ann <a@example.org>"), surrounding spaces and anything
// net/mail cannot parse, so what is stored is exactly what is compared.
func ValidateEmail(email string) error {
	if email == "" {
		return apperr.New(apperr.Invalid, "email is required")
	}
	if len(email) > 254 {
		return apperr.New(apperr.Invalid, "email is longer than 254 characters")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return apperr.New(apperr.Invalid, "%q is not a valid email address", email)
	}
	return nil
}

// minLocalPartInPassword is the shortest email local part that a password
// may not contain: shorter ones ("al") occur in passwords by chance.
const minLocalPartInPassword = 3

// ValidatePassword is ward's one password policy (NIST SP 800-63B 5.1.1.2),
// applied wherever a password is set (account creation by the API or the
// CLI, password reset, and any self-service to come): valid UTF-8, 8 to 1024
// characters, not one of the 30,000 most common passwords
// (secrets.CommonPassword), and not containing the local part of the
// account's email (ignoring case, when that is 3 characters or more). email
// may be empty. No composition rules: NIST advises against them.
func ValidatePassword(pw, email string) error {
	if !utf8.ValidString(pw) {
		return apperr.New(apperr.Invalid, "password must be valid UTF-8")
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLength {
		return apperr.New(apperr.Invalid, "password must be at least %d characters", MinPasswordLength)
	}
	if n > MaxPasswordLength {
		return apperr.New(apperr.Invalid, "password must be at most %d characters", MaxPasswordLength)
	}
	if secrets.CommonPassword(pw) {
		return apperr.New(apperr.Invalid, "password is one of the most commonly used passwords; choose another")
	}
	if at := strings.LastIndexByte(email, '@'); at > 0 {
		local := strings.ToLower(email[:at])
		if utf8.RuneCountInString(local) >= minLocalPartInPassword && strings.Contains(strings.ToLower(pw), local) {
			return apperr.New(apperr.Invalid, "password must not contain the email address's name part")
		}
	}
	return nil
}

// ValidateBirthDate accepts "" or a YYYY-MM-DD calendar date not after
// today (as of now, in UTC).
func ValidateBirthDate(d string, now time.Time) error {
	if d == "" {
		return nil
	}
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return apperr.New(apperr.Invalid, "birthDate %q must be a date as YYYY-MM-DD", d)
	}
	if t.After(now.UTC()) {
		return apperr.New(apperr.Invalid, "birthDate %s is in the future", d)
	}
	if t.Year() < 1850 {
		return apperr.New(apperr.Invalid, "birthDate %s is implausibly early", d)
	}
	return nil
}

// validateUser checks the caller-supplied fields of u. Email is optional
// (patients may be known only by identifiers) but must be valid when set.
func validateUser(u *User, now time.Time) error {
	var problems []string
	add := func(err error) {
		if err != nil {
			problems = append(problems, apperr.Message(err))
		}
	}
	if u.Email != "" {
		add(ValidateEmail(u.Email))
	}
	add(ValidateBirthDate(u.BirthDate, now))
	if !ValidGender(u.Gender) {
		problems = append(problems, fmt.Sprintf("gender %q is not one of male, female, other, unknown", u.Gender))
	}
	for name, v := range map[string]string{
		"given name": u.GivenName, "family name": u.FamilyName, "phone": u.Phone,
		"alternative phone": u.AltPhone, "locale": u.Locale, "timezone": u.Timezone,
	} {
		if len(v) > maxShortField || !utf8.ValidString(v) {
			problems = append(problems, fmt.Sprintf("%s must be valid text of at most %d bytes", name, maxShortField))
		}
	}
	if u.ImageURL != "" {
		add(validateURL("image URL", u.ImageURL))
	}
	if u.Deceased && u.DeceasedAt != nil && u.DeceasedAt.After(now) {
		problems = append(problems, "deceased date is in the future")
	}
	for name, cs := range map[string][]Coding{"races": u.Races, "ethnicities": u.Ethnicities, "indigenous": u.Indigenous} {
		if len(cs) > maxCodingCount {
			problems = append(problems, fmt.Sprintf("at most %d %s codings", maxCodingCount, name))
		}
		for _, c := range cs {
			if c.System == "" || c.Code == "" {
				problems = append(problems, fmt.Sprintf("every %s coding needs a system and a code", name))
				break
			}
		}
	}
	if u.GeneralPractitionerID < 0 {
		problems = append(problems, "general practitioner id must not be negative")
	}
	if len(problems) > 0 {
		return apperr.New(apperr.Invalid, "%s", strings.Join(sortedUnique(problems), "; "))
	}
	return nil
}

// validateURL requires an absolute http(s) URL.
func validateURL(what, s string) error {
	if len(s) > maxURLLength {
		return apperr.New(apperr.Invalid, "%s is longer than %d characters", what, maxURLLength)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return apperr.New(apperr.Invalid, "%s %q must be an absolute http(s) URL", what, s)
	}
	return nil
}

// validateRoleNames rejects unknown names, naming the first, and returns
// the names without duplicates.
func validateRoleNames(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		if !IsRole(n) {
			return nil, apperr.New(apperr.Invalid, "unknown role %q", n)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// ParseIdentifier parses the FHIR token form "system|value". Both parts are
// required: an identifier without a system is ambiguous across the systems
// ward talks to. The value may itself contain "|"; the system may not.
func ParseIdentifier(s string) (Identifier, error) {
	system, value, ok := strings.Cut(s, "|")
	if !ok {
		return Identifier{}, apperr.New(apperr.Invalid, "identifier %q must be written as system|value", s)
	}
	id := Identifier{System: strings.TrimSpace(system), Value: strings.TrimSpace(value)}
	if err := validateIdentifier(id); err != nil {
		return Identifier{}, err
	}
	return id, nil
}

// validateIdentifier requires a system and a value of bounded length.
func validateIdentifier(id Identifier) error {
	if id.System == "" {
		return apperr.New(apperr.Invalid, "identifier system is required")
	}
	if id.Value == "" {
		return apperr.New(apperr.Invalid, "identifier value is required")
	}
	if len(id.System) > maxShortField || len(id.Value) > maxShortField {
		return apperr.New(apperr.Invalid, "identifier system and value must be at most %d bytes each", maxShortField)
	}
	if !utf8.ValidString(id.System) || !utf8.ValidString(id.Value) {
		return apperr.New(apperr.Invalid, "identifier must be valid UTF-8")
	}
	switch id.Use {
	case "", "usual", "official", "temp", "secondary", "old":
	default:
		return apperr.New(apperr.Invalid, "identifier use %q is not one of usual, official, temp, secondary, old", id.Use)
	}
	return nil
}

// Identifier systems whose values are shared by many users: they name a
// group or a place, not a person (the reference system's site, region and
// tracker-group codes, and the primary investigator a patient belongs to).
const (
	ExternalSiteSystem         = "http://us.truenth.org/identity-codes/external-site-id"
	PracticeRegionSystem       = "http://us.truenth.org/identity-codes/practice-region"
	DecisionSupportGroupSystem = "http://us.truenth.org/identity-codes/decision-support-group"
	PSATrackerGroupSystem      = "http://us.truenth.org/identity-codes/psa-tracker-group"
	SymptomTrackerGroupSystem  = "http://us.truenth.org/identity-codes/symptom-tracker-group"
	PrimaryInvestigatorSystem  = "http://us.truenth.org/identity-codes/Primary-Investigator"
)

// IdentifierSystemUnique reports whether a value in system may belong to at
// most one live user. ward deliberately inverts the reference (which makes
// only the external study id unique): every system is unique except the
// shared group/place systems above, because a new system that names people
// (an MRN, a national id) must not silently allow two patients to share one.
func IdentifierSystemUnique(system string) bool {
	switch system {
	case ExternalSiteSystem, PracticeRegionSystem, DecisionSupportGroupSystem,
		PSATrackerGroupSystem, SymptomTrackerGroupSystem, PrimaryInvestigatorSystem:
		return false
	}
	return true
}

// CatchmentCovers reports whether catchment (a geographic code such as
// division "30", district "3026") covers code: the codes are hierarchical
// by prefix, so "3026" covers "302618" and itself but not "3027" or "30".
// Both must be non-empty strings of digits.
func CatchmentCovers(catchment, code string) bool {
	return isDigits(catchment) && isDigits(code) && strings.HasPrefix(code, catchment)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidateProfiles checks typed profiles: a known type, a non-empty id,
// catchments of digits, and no (type, id) twice.
func ValidateProfiles(ps []Profile) error {
	if len(ps) > maxProfiles {
		return apperr.New(apperr.Invalid, "at most %d profiles", maxProfiles)
	}
	seen := map[[2]string]bool{}
	for _, p := range ps {
		switch p.Type {
		case ProfileProvider, ProfileAdmin, ProfileFacility, ProfilePatient:
		default:
			return apperr.New(apperr.Invalid, "profile type %q is not one of provider, admin, facility, patient", p.Type)
		}
		if strings.TrimSpace(p.ID) == "" || len(p.ID) > maxShortField {
			return apperr.New(apperr.Invalid, "%s profile needs an id of at most %d bytes", p.Type, maxShortField)
		}
		key := [2]string{p.Type, p.ID}
		if seen[key] {
			return apperr.New(apperr.Invalid, "profile %s %s listed twice", p.Type, p.ID)
		}
		seen[key] = true
		if len(p.Catchment) > maxCatchments {
			return apperr.New(apperr.Invalid, "%s profile %s has more than %d catchments", p.Type, p.ID, maxCatchments)
		}
		for _, c := range p.Catchment {
			if !isDigits(c) || len(c) > 32 {
				return apperr.New(apperr.Invalid, "catchment %q of %s profile %s must be digits", c, p.Type, p.ID)
			}
		}
	}
	return nil
}

// validateOrganization checks the caller-supplied fields of o (not its
// parent's existence, which needs the store).
func validateOrganization(o *Organization) error {
	if strings.TrimSpace(o.Name) == "" {
		return apperr.New(apperr.Invalid, "organization name is required")
	}
	if len(o.Name) > maxNameLength || !utf8.ValidString(o.Name) {
		return apperr.New(apperr.Invalid, "organization name must be valid text of at most %d bytes", maxNameLength)
	}
	if o.PartOfID < 0 {
		return apperr.New(apperr.Invalid, "partOf must be a positive organization id")
	}
	if o.ID != 0 && o.PartOfID == o.ID {
		return apperr.New(apperr.Invalid, "organization %d cannot be part of itself", o.ID)
	}
	seen := map[Identifier]bool{}
	for _, id := range o.Identifiers {
		if err := validateIdentifier(id); err != nil {
			return err
		}
		key := Identifier{System: id.System, Value: id.Value}
		if seen[key] {
			return apperr.New(apperr.Invalid, "identifier %s|%s listed twice", id.System, id.Value)
		}
		seen[key] = true
	}
	if len(o.Timezone) > maxShortField || len(o.DefaultLocale) > maxShortField {
		return apperr.New(apperr.Invalid, "timezone and locale must be at most %d bytes", maxShortField)
	}
	return nil
}

// sortedUnique returns the distinct strings of in, sorted, so messages built
// from map iteration come out the same every time.
func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
