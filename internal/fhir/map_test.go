package fhir

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/directory"
)

// fullUser sets every demographic field a Patient carries to a non-zero
// value, so that a field dropped by the mapping is caught.
func fullUser() *directory.User {
	died := time.Date(2024, 3, 4, 5, 6, 7, 123456000, time.UTC)
	deleted := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	return &directory.User{
		ID:                    42,
		Email:                 "ann@example.org",
		GivenName:             "Ann Marie",
		FamilyName:            "O'Neil",
		BirthDate:             "1950-02-28",
		Gender:                "female",
		Phone:                 "+1 555 0100",
		AltPhone:              "+1 555 0199",
		Locale:                "en_AU",
		Timezone:              "Australia/Sydney",
		Deceased:              true,
		DeceasedAt:            &died,
		ImageURL:              "https://img.example.org/ann.png",
		Races:                 []directory.Coding{{System: "http://hl7.org/fhir/v3/Race", Code: "2106-3", Display: "White"}, {System: "http://hl7.org/fhir/v3/Race", Code: "2028-9", Display: "Asian"}},
		Ethnicities:           []directory.Coding{{System: "http://hl7.org/fhir/v3/Ethnicity", Code: "2186-5", Display: "Not Hispanic or Latino"}},
		Indigenous:            []directory.Coding{{System: "http://us.truenth.org/fhir/valueset/AU-NHHD-METeOR-id-291036", Code: "4", Display: "Neither"}},
		DeletedAt:             &deleted,
		UpdatedAt:             time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC),
		Version:               7,
		GeneralPractitionerID: 9,
	}
}

// patientBody renders u as a client would send it back after a GET.
func patientBody(t *testing.T, u *directory.User) []byte {
	t.Helper()
	data, err := json.Marshal(PatientFromUser(u, nil, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// applyBody decodes body and applies it to u as a PUT handler would.
func applyBody(u *directory.User, body string) error {
	p, err := DecodePatient([]byte(body))
	if err != nil {
		return err
	}
	present, err := PresentFields([]byte(body))
	if err != nil {
		return err
	}
	return ApplyPatient(u, p, present, testBase)
}

// demographics strips the fields a Patient does not carry (bookkeeping and
// the active flag, which goes through the audited delete/reactivate).
func demographics(u *directory.User) directory.User {
	c := *u
	c.ID, c.PasswordHash, c.Registered, c.ConfirmedAt, c.DeletedAt, c.UpdatedAt, c.Version = 0, "", time.Time{}, nil, nil, time.Time{}, 0
	if c.DeceasedAt != nil {
		at := c.DeceasedAt.UTC()
		c.DeceasedAt = &at
	}
	return c
}

func TestUserSurvivesPatientRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    *directory.User
	}{
		{"deceased at a time", fullUser()},
		{"deceased without a time", func() *directory.User { u := fullUser(); u.DeceasedAt = nil; return u }()},
		{"alive", func() *directory.User { u := fullUser(); u.Deceased, u.DeceasedAt = false, nil; return u }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := patientBody(t, tc.u)
			got := &directory.User{ID: tc.u.ID}
			if err := applyBody(got, string(body)); err != nil {
				t.Fatalf("apply %s: %v", body, err)
			}
			if want := demographics(tc.u); !reflect.DeepEqual(demographics(got), want) {
				t.Errorf("round trip lost data:\n got %+v\nwant %+v\nbody %s", demographics(got), want, body)
			}
		})
	}
}

func TestPatientFromUser(t *testing.T) {
	u := fullUser()
	ids := []directory.Identifier{{System: "http://example.org/mrn", Value: "M-1", Use: "official"}}
	p := PatientFromUser(u, ids, []int64{3, 5}, "https://ward.test/fhir/")
	if p.ID != "42" || p.Meta.VersionID != "7" || p.Meta.LastUpdated != "2024-06-01T12:00:00Z" {
		t.Errorf("id/meta = %q %+v", p.ID, p.Meta)
	}
	if p.Active == nil || *p.Active {
		t.Errorf("active = %v, want false for a deleted user", p.Active)
	}
	if p.DeceasedDateTime != "2024-03-04T05:06:07.123456Z" || p.DeceasedBoolean != nil {
		t.Errorf("deceased = %v / %q", p.DeceasedBoolean, p.DeceasedDateTime)
	}
	if p.ManagingOrganization == nil || p.ManagingOrganization.Reference != "https://ward.test/fhir/Organization/3" {
		t.Errorf("managingOrganization = %+v", p.ManagingOrganization)
	}
	var refs []string
	for _, r := range p.GeneralPractitioner {
		refs = append(refs, r.Reference)
	}
	wantRefs := []string{"https://ward.test/fhir/Organization/3", "https://ward.test/fhir/Organization/5", "https://ward.test/fhir/Practitioner/9"}
	if !reflect.DeepEqual(refs, wantRefs) {
		t.Errorf("generalPractitioner = %v, want %v", refs, wantRefs)
	}
	wantTelecom := []ContactPoint{{System: "email", Value: "ann@example.org"}, {System: "phone", Value: "+1 555 0100", Use: "mobile"}, {System: "phone", Value: "+1 555 0199", Use: "home"}}
	if !reflect.DeepEqual(p.Telecom, wantTelecom) {
		t.Errorf("telecom = %+v", p.Telecom)
	}
	if len(p.Identifier) != 1 || p.Identifier[0].System != "http://example.org/mrn" || p.Identifier[0].Use != "official" {
		t.Errorf("identifier = %+v", p.Identifier)
	}
	if tz := findExtension(p.Extension, ExtTimezone); tz == nil || tz.ValueCode != "Australia/Sydney" {
		t.Errorf("timezone extension = %+v", tz)
	}
	if race := findExtension(p.Extension, ExtRace); race == nil || len(race.ValueCodeableConcept.Coding) != 2 {
		t.Errorf("race extension = %+v", race)
	}
	orgs, err := PatientOrganizationIDs(p, testBase)
	if err != nil || !reflect.DeepEqual(orgs, []int64{3, 5}) {
		t.Errorf("PatientOrganizationIDs = %v, %v", orgs, err)
	}
	gotIDs, err := PatientIdentifiers(p)
	if err != nil || !reflect.DeepEqual(gotIDs, ids) {
		t.Errorf("PatientIdentifiers = %v, %v", gotIDs, err)
	}

	// A user that is live, alive and has no optional data.
	bare := PatientFromUser(&directory.User{ID: 1}, nil, nil, "")
	if bare.Active == nil || !*bare.Active || bare.DeceasedBoolean == nil || *bare.DeceasedBoolean ||
		bare.Name != nil || bare.Telecom != nil || bare.Extension != nil || bare.Meta != nil {
		t.Errorf("bare patient = %+v", bare)
	}
}

// Absent members keep the stored value; present ones replace it, and null
// or empty clears it.
func TestApplyPatientPresence(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, before, after *directory.User)
	}{
		{"absent keeps everything", `{"resourceType":"Patient"}`, func(t *testing.T, b, a *directory.User) {
			if !reflect.DeepEqual(a, b) {
				t.Errorf("changed:\n got %+v\nwant %+v", a, b)
			}
		}},
		{"birthDate null clears only birthDate", `{"resourceType":"Patient","birthDate":null}`, func(t *testing.T, b, a *directory.User) {
			want := *b
			want.BirthDate = ""
			if !reflect.DeepEqual(*a, want) {
				t.Errorf("got %+v", a)
			}
		}},
		{"birthDate replaces", `{"resourceType":"Patient","birthDate":"1960-01-31"}`, func(t *testing.T, b, a *directory.User) {
			if a.BirthDate != "1960-01-31" || a.Gender != b.Gender {
				t.Errorf("birthDate %q gender %q", a.BirthDate, a.Gender)
			}
		}},
		{"gender empty clears", `{"resourceType":"Patient","gender":""}`, func(t *testing.T, b, a *directory.User) {
			if a.Gender != "" || a.BirthDate != b.BirthDate {
				t.Errorf("gender %q", a.Gender)
			}
		}},
		{"name empty clears both names", `{"resourceType":"Patient","name":[]}`, func(t *testing.T, b, a *directory.User) {
			if a.GivenName != "" || a.FamilyName != "" || a.Email != b.Email {
				t.Errorf("names %q %q", a.GivenName, a.FamilyName)
			}
		}},
		{"official name wins", `{"resourceType":"Patient","name":[{"use":"usual","given":["Jim"]},{"use":"official","family":"Chalmers","given":["Peter","James"]}]}`, func(t *testing.T, b, a *directory.User) {
			if a.GivenName != "Peter James" || a.FamilyName != "Chalmers" {
				t.Errorf("names %q %q", a.GivenName, a.FamilyName)
			}
		}},
		{"telecom null clears email and phones", `{"resourceType":"Patient","telecom":null}`, func(t *testing.T, b, a *directory.User) {
			if a.Email != "" || a.Phone != "" || a.AltPhone != "" || a.GivenName != b.GivenName {
				t.Errorf("telecom fields %q %q %q", a.Email, a.Phone, a.AltPhone)
			}
		}},
		{"telecom with only a phone", `{"resourceType":"Patient","telecom":[{"system":"phone","value":"1"},{"system":"phone","value":"2","use":"work"},{"system":"fax","value":"3"}]}`, func(t *testing.T, b, a *directory.User) {
			if a.Email != "" || a.Phone != "1" || a.AltPhone != "2" {
				t.Errorf("telecom fields %q %q %q", a.Email, a.Phone, a.AltPhone)
			}
		}},
		{"deceasedBoolean false clears the time", `{"resourceType":"Patient","deceasedBoolean":false}`, func(t *testing.T, b, a *directory.User) {
			if a.Deceased || a.DeceasedAt != nil {
				t.Errorf("deceased %v at %v", a.Deceased, a.DeceasedAt)
			}
		}},
		{"deceasedDateTime null clears", `{"resourceType":"Patient","deceasedDateTime":null}`, func(t *testing.T, b, a *directory.User) {
			if a.Deceased || a.DeceasedAt != nil {
				t.Errorf("deceased %v at %v", a.Deceased, a.DeceasedAt)
			}
		}},
		{"deceasedDateTime as a date", `{"resourceType":"Patient","deceasedDateTime":"2020-05"}`, func(t *testing.T, b, a *directory.User) {
			if !a.Deceased || a.DeceasedAt == nil || !a.DeceasedAt.Equal(time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("deceased %v at %v", a.Deceased, a.DeceasedAt)
			}
		}},
		{"photo empty clears", `{"resourceType":"Patient","photo":[]}`, func(t *testing.T, b, a *directory.User) {
			if a.ImageURL != "" {
				t.Errorf("image %q", a.ImageURL)
			}
		}},
		{"communication null clears locale", `{"resourceType":"Patient","communication":null}`, func(t *testing.T, b, a *directory.User) {
			if a.Locale != "" || a.Timezone != b.Timezone {
				t.Errorf("locale %q", a.Locale)
			}
		}},
		{"preferred communication wins", `{"resourceType":"Patient","communication":[{"language":{"text":"French"}},{"language":{"coding":[{"code":"es"},{"system":"urn:ietf:bcp:47","code":"es-MX"}]},"preferred":true}]}`, func(t *testing.T, b, a *directory.User) {
			if a.Locale != "es-MX" {
				t.Errorf("locale %q", a.Locale)
			}
		}},
		{"generalPractitioner empty clears the practitioner", `{"resourceType":"Patient","generalPractitioner":[]}`, func(t *testing.T, b, a *directory.User) {
			if a.GeneralPractitionerID != 0 {
				t.Errorf("gp %d", a.GeneralPractitionerID)
			}
		}},
		{"one extension listed replaces only its field", `{"resourceType":"Patient","extension":[{"url":"` + ExtTimezone + `","valueCode":"Europe/Paris"}]}`, func(t *testing.T, b, a *directory.User) {
			if a.Timezone != "Europe/Paris" || !reflect.DeepEqual(a.Races, b.Races) || !reflect.DeepEqual(a.Indigenous, b.Indigenous) {
				t.Errorf("timezone %q races %v", a.Timezone, a.Races)
			}
		}},
		{"legacy timezone shape", `{"resourceType":"Patient","extension":[{"url":"` + ExtTimezone + `","timezone":"Asia/Tokyo"}]}`, func(t *testing.T, b, a *directory.User) {
			if a.Timezone != "Asia/Tokyo" {
				t.Errorf("timezone %q", a.Timezone)
			}
		}},
		{"extension without value clears its field", `{"resourceType":"Patient","extension":[{"url":"` + ExtRace + `"},{"url":"` + ExtTimezone + `"}]}`, func(t *testing.T, b, a *directory.User) {
			if a.Races != nil || a.Timezone != "" || !reflect.DeepEqual(a.Ethnicities, b.Ethnicities) {
				t.Errorf("races %v timezone %q ethnicities %v", a.Races, a.Timezone, a.Ethnicities)
			}
		}},
		{"empty extension list keeps every extension field", `{"resourceType":"Patient","extension":[]}`, func(t *testing.T, b, a *directory.User) {
			if !reflect.DeepEqual(a, b) {
				t.Errorf("changed: %+v", a)
			}
		}},
		{"active is not applied", `{"resourceType":"Patient","active":false}`, func(t *testing.T, b, a *directory.User) {
			if !reflect.DeepEqual(a, b) {
				t.Errorf("changed: %+v", a)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fullUser()
			after := fullUser()
			if err := applyBody(after, tt.body); err != nil {
				t.Fatalf("apply: %v", err)
			}
			tt.check(t, before, after)
		})
	}
}

// A refused body changes nothing, even when earlier members were fine.
func TestApplyPatientRefuses(t *testing.T) {
	tests := []struct {
		name, body, wantMsg string
	}{
		{"bad gender", `{"resourceType":"Patient","name":[],"gender":"yes"}`, "gender must be one of"},
		{"partial birthDate", `{"resourceType":"Patient","name":[],"birthDate":"1974"}`, "full date"},
		{"impossible birthDate", `{"resourceType":"Patient","birthDate":"1974-02-30"}`, "full date"},
		{"both deceased variants", `{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020-01-01"}`, "only one of"},
		{"bad deceasedDateTime", `{"resourceType":"Patient","deceasedDateTime":"yesterday"}`, "not a valid dateTime"},
		{"unknown extension", `{"resourceType":"Patient","name":[],"extension":[{"url":"http://example.org/x","valueString":"y"}]}`, "unsupported Patient extension"},
		{"race with wrong value type", `{"resourceType":"Patient","extension":[{"url":"` + ExtRace + `","valueString":"White"}]}`, "takes valueCodeableConcept"},
		{"race coding without code", `{"resourceType":"Patient","extension":[{"url":"` + ExtRace + `","valueCodeableConcept":{"coding":[{"system":"s"}]}}]}`, "coding needs a code"},
		{"unknown time zone", `{"resourceType":"Patient","extension":[{"url":"` + ExtTimezone + `","valueCode":"Mars/Olympus"}]}`, "unknown time zone"},
		{"Local time zone", `{"resourceType":"Patient","extension":[{"url":"` + ExtTimezone + `","valueCode":"Local"}]}`, "unknown time zone"},
		{"modifier extension", `{"resourceType":"Patient","modifierExtension":[{"url":"http://example.org/m","valueBoolean":true}]}`, "modifierExtension is not supported"},
		{"bad telecom system", `{"resourceType":"Patient","telecom":[{"system":"pigeon","value":"x"}]}`, "telecom system must be one of"},
		{"two practitioners", `{"resourceType":"Patient","generalPractitioner":[{"reference":"Practitioner/1"},{"reference":"Practitioner/2"}]}`, "at most one Practitioner"},
		{"practitioner role", `{"resourceType":"Patient","generalPractitioner":[{"reference":"PractitionerRole/1"}]}`, "must reference Organization"},
		{"bad practitioner id", `{"resourceType":"Patient","generalPractitioner":[{"reference":"Practitioner/x"}]}`, "numeric id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := fullUser()
			err := applyBody(u, tt.body)
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("err = %v, want Invalid", err)
			}
			if !strings.Contains(apperr.Message(err), tt.wantMsg) {
				t.Errorf("message %q, want %q", apperr.Message(err), tt.wantMsg)
			}
			if !reflect.DeepEqual(u, fullUser()) {
				t.Errorf("user changed by a refused body: %+v", u)
			}
		})
	}
}

func TestPatientIdentifiersAndOrganizationsRefuse(t *testing.T) {
	if _, err := PatientIdentifiers(&Patient{Identifier: []Identifier{{Value: "no-system"}}}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("identifier without system: err = %v", err)
	}
	if _, err := PatientOrganizationIDs(&Patient{ManagingOrganization: &Reference{Reference: "Organization/x"}}, testBase); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("malformed managingOrganization: err = %v", err)
	}
	got, err := PatientOrganizationIDs(&Patient{
		ManagingOrganization: &Reference{Reference: "Organization/2"},
		GeneralPractitioner:  []Reference{{Reference: "Practitioner/1"}, {Reference: "Organization/2"}, {Reference: "Organization/4"}},
	}, testBase)
	if err != nil || !reflect.DeepEqual(got, []int64{2, 4}) {
		t.Errorf("PatientOrganizationIDs = %v, %v", got, err)
	}
}

func fullOrganization() *directory.Organization {
	return &directory.Organization{
		ID:       6,
		Name:     "UCSF Urologic Surgical Oncology",
		PartOfID: 2,
		Identifiers: []directory.Identifier{
			{System: directory.ShortcutAliasSystem, Value: "ucsfurology"},
			{System: "urn:oid:2.16.528.1", Value: "91654", Use: "official"},
		},
		Type:          []directory.Coding{{System: "http://terminology.hl7.org/CodeSystem/organization-type", Code: "prov", Display: "Healthcare Provider"}},
		Telecom:       []directory.ContactPoint{{System: "phone", Value: "022-655 2300", Use: "work"}, {System: "email", Value: "clinic@example.org"}},
		Addresses:     []directory.Address{{Use: "work", Type: "both", Text: "1 Main St", Line: []string{"1 Main St", "Floor 2"}, City: "San Francisco", District: "SF", State: "CA", PostalCode: "94143", Country: "USA"}},
		Timezone:      "America/Los_Angeles",
		DefaultLocale: "en_US",
		Coding:        directory.CodingOptions{UseSpecificCodings: true, RaceCodings: true, EthnicityCodings: false, IndigenousCodings: true},
		UpdatedAt:     time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		Version:       3,
	}
}

func TestOrganizationRoundTrip(t *testing.T) {
	for _, base := range []string{"", "https://ward.test/fhir"} {
		o := fullOrganization()
		data, err := json.Marshal(OrganizationFromDirectory(o, base))
		if err != nil {
			t.Fatal(err)
		}
		fo, err := DecodeOrganization(data)
		if err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		got, err := ToDirectoryOrganization(fo, testBase)
		if err != nil {
			t.Fatalf("to directory: %v", err)
		}
		want := *o
		want.UpdatedAt, want.Version = time.Time{}, 0 // bookkeeping, not taken from clients
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("base %q: round trip lost data:\n got %+v\nwant %+v\nbody %s", base, *got, want, data)
		}
	}
	// Every coding option is written, false ones included.
	fo := OrganizationFromDirectory(&directory.Organization{ID: 1, Name: "Top"}, "")
	for _, url := range []string{ExtUseSpecificCodings, ExtRaceCodings, ExtEthnicityCodings, ExtIndigenousCodings} {
		if e := findExtension(fo.Extension, url); e == nil || e.ValueBoolean == nil || *e.ValueBoolean {
			t.Errorf("%s = %+v, want valueBoolean false", url, e)
		}
	}
	if fo.PartOf != nil || fo.Meta != nil {
		t.Errorf("top-level org: partOf %+v meta %+v", fo.PartOf, fo.Meta)
	}
}

func TestToDirectoryOrganization(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		check   func(t *testing.T, o *directory.Organization)
		wantMsg string // "" means accepted
	}{
		{name: "seed 001 shortcut alias body", body: `{"resourceType":"Organization","identifier":[{"system":"http://us.truenth.org/identity-codes/shortcut-alias","value":"ucsfurology"}]}`, check: func(t *testing.T, o *directory.Organization) {
			if len(o.Identifiers) != 1 || o.Identifiers[0].System != directory.ShortcutAliasSystem || o.Identifiers[0].Value != "ucsfurology" {
				t.Errorf("identifiers %+v", o.Identifiers)
			}
		}},
		{name: "absolute partOf on this server", body: `{"resourceType":"Organization","id":"8","partOf":{"reference":"` + testBase + `/Organization/3"}}`, check: func(t *testing.T, o *directory.Organization) {
			if o.ID != 8 || o.PartOfID != 3 {
				t.Errorf("id %d partOf %d", o.ID, o.PartOfID)
			}
		}},
		{name: "spec example keeps what the directory holds", body: `{"resourceType":"Organization","name":"HL7","alias":["x"],"endpoint":[{"reference":"Endpoint/e"}],"telecom":[{"system":"fax","value":"1"}]}`, check: func(t *testing.T, o *directory.Organization) {
			if o.Name != "HL7" || len(o.Telecom) != 1 || o.Telecom[0].System != "fax" {
				t.Errorf("org %+v", o)
			}
		}},
		{name: "locale as plain code", body: `{"resourceType":"Organization","extension":[{"url":"` + ExtLanguages + `","valueCode":"fr_CA"}]}`, check: func(t *testing.T, o *directory.Organization) {
			if o.DefaultLocale != "fr_CA" {
				t.Errorf("locale %q", o.DefaultLocale)
			}
		}},
		{name: "partOf on another server", body: `{"resourceType":"Organization","partOf":{"reference":"https://other-hospital.example/fhir/Organization/3"}}`, wantMsg: "this server's FHIR base"},
		{name: "partOf as urn:uuid (no transactions)", body: `{"resourceType":"Organization","partOf":{"reference":"urn:uuid:2f1c3a52-7c1e-4b63-9a43-0c1e5d0b6a11"}}`, wantMsg: "this server's FHIR base"},
		{name: "partOf as a longer relative path", body: `{"resourceType":"Organization","partOf":{"reference":"fhir/Organization/3"}}`, wantMsg: "type/id"},
		{name: "malformed partOf", body: `{"resourceType":"Organization","partOf":{"reference":"Organization/abc"}}`, wantMsg: "numeric id"},
		{name: "partOf to another type", body: `{"resourceType":"Organization","partOf":{"reference":"Patient/3"}}`, wantMsg: "must reference Organization/{id}"},
		{name: "partOf by display only", body: `{"resourceType":"Organization","partOf":{"display":"Parent"}}`, wantMsg: "literal reference"},
		{name: "part of itself", body: `{"resourceType":"Organization","id":"3","partOf":{"reference":"Organization/3"}}`, wantMsg: "part of itself"},
		{name: "non-numeric id", body: `{"resourceType":"Organization","id":"hl7"}`, wantMsg: "id must be a positive integer"},
		{name: "identifier without value", body: `{"resourceType":"Organization","identifier":[{"system":"s"}]}`, wantMsg: "needs both system and value"},
		{name: "type coding without code", body: `{"resourceType":"Organization","type":[{"coding":[{"system":"s"}]}]}`, wantMsg: "coding needs a code"},
		{name: "coding option with wrong type", body: `{"resourceType":"Organization","extension":[{"url":"` + ExtRaceCodings + `","valueString":"yes"}]}`, wantMsg: "takes valueBoolean"},
		{name: "unknown extension", body: `{"resourceType":"Organization","extension":[{"url":"http://us.truenth.org/identity-codes/research-protocol"}]}`, wantMsg: "unsupported Organization extension"},
		{name: "bad time zone", body: `{"resourceType":"Organization","extension":[{"url":"` + ExtTimezone + `","valueCode":"Nowhere/Land"}]}`, wantMsg: "unknown time zone"},
		{name: "modifier extension", body: `{"resourceType":"Organization","modifierExtension":[{"url":"m","valueBoolean":true}]}`, wantMsg: "modifierExtension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fo, err := DecodeOrganization([]byte(tt.body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			o, err := ToDirectoryOrganization(fo, testBase)
			if tt.wantMsg != "" {
				if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), tt.wantMsg) {
					t.Errorf("err = %v, want Invalid containing %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			tt.check(t, o)
		})
	}
}

func TestApplyOrganizationPresence(t *testing.T) {
	cur := &directory.Organization{
		ID: 6, Name: "UCSF Urology", PartOfID: 2, Timezone: "America/Los_Angeles", DefaultLocale: "en-US",
		Identifiers: []directory.Identifier{{System: "http://example.org/ids", Value: "u-6"}},
		Telecom:     []directory.ContactPoint{{System: "phone", Value: "+1 415 555 0100"}},
		Coding:      directory.CodingOptions{UseSpecificCodings: true, RaceCodings: true},
		Version:     3,
	}
	cases := []struct {
		name string
		body string
		want func(o directory.Organization) directory.Organization
	}{
		{"identifier only: everything else is kept (seed 001's alias example)",
			`{"resourceType":"Organization","identifier":[{"system":"` + directory.ShortcutAliasSystem + `","value":"ucsfurology"}]}`,
			func(o directory.Organization) directory.Organization {
				o.Identifiers = []directory.Identifier{{System: directory.ShortcutAliasSystem, Value: "ucsfurology"}}
				return o
			}},
		{"name and an empty telecom replace; partOf kept",
			`{"resourceType":"Organization","name":"UCSF Urologic Surgical Oncology","telecom":[]}`,
			func(o directory.Organization) directory.Organization {
				o.Name = "UCSF Urologic Surgical Oncology"
				o.Telecom = nil
				return o
			}},
		{"one extension replaces only its own element",
			`{"resourceType":"Organization","extension":[{"url":"` + ExtRaceCodings + `","valueBoolean":false}]}`,
			func(o directory.Organization) directory.Organization {
				o.Coding.RaceCodings = false
				return o
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := DecodeOrganization([]byte(tc.body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			present, err := PresentFields([]byte(tc.body))
			if err != nil {
				t.Fatalf("present: %v", err)
			}
			before := *cur
			got, err := ApplyOrganization(cur, o, present, testBase)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if want := tc.want(*cur); !reflect.DeepEqual(*got, want) {
				t.Fatalf("got  %+v\nwant %+v", *got, want)
			}
			if !reflect.DeepEqual(*cur, before) {
				t.Fatal("ApplyOrganization modified the stored organization")
			}
		})
	}
	bad := `{"resourceType":"Organization","partOf":{"reference":"Patient/3"}}`
	o, err := DecodeOrganization([]byte(bad))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if _, err := ApplyOrganization(cur, o, map[string]bool{"partOf": true}, testBase); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("partOf to a Patient: err = %v, want Invalid", err)
	}
}
