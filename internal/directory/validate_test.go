package directory

import (
	"strings"
	"testing"
	"time"

	"ward/internal/apperr"
)

func TestParseIdentifier(t *testing.T) {
	tests := []struct {
		in      string
		want    Identifier
		wantErr string
	}{
		{"http://example.org/mrn|12345", Identifier{System: "http://example.org/mrn", Value: "12345"}, ""},
		{" urn:x | v ", Identifier{System: "urn:x", Value: "v"}, ""},
		{"urn:x|a|b", Identifier{System: "urn:x", Value: "a|b"}, ""},
		{"12345", Identifier{}, "system|value"},
		{"|12345", Identifier{}, "system is required"},
		{"urn:x|", Identifier{}, "value is required"},
		{"", Identifier{}, "system|value"},
		{"urn:x|" + strings.Repeat("v", 300), Identifier{}, "at most"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseIdentifier(tc.in)
			if tc.wantErr != "" {
				if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want Invalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func FuzzParseIdentifier(f *testing.F) {
	for _, s := range []string{"a|b", "|", "", "urn:x|a|b", "\xff|\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseIdentifier(s)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error of kind %v", apperr.KindOf(err))
			}
			return
		}
		if id.System == "" || id.Value == "" || strings.Contains(id.System, "|") {
			t.Fatalf("accepted %q as %+v", s, id)
		}
	})
}

func TestIdentifierSystemUnique(t *testing.T) {
	if !IdentifierSystemUnique("http://us.truenth.org/identity-codes/external-study-id") {
		t.Error("external study id must be unique")
	}
	if !IdentifierSystemUnique("http://hospital.example/mrn") {
		t.Error("an unlisted system must be unique")
	}
	if IdentifierSystemUnique(PracticeRegionSystem) {
		t.Error("practice region is shared by many users")
	}
	if IdentifierSystemUnique(ExternalSiteSystem) {
		t.Error("external site id is shared by many users")
	}
}

func TestCatchmentCovers(t *testing.T) {
	tests := []struct {
		catchment, code string
		want            bool
	}{
		{"3026", "302618", true},
		{"3026", "3026", true},
		{"30", "302618", true},
		{"3026", "3027", false},
		{"302618", "3026", false},
		{"3026", "40302618", false},
		{"", "302618", false},
		{"3026", "", false},
		{"30a", "30a1", false},
		{"-1", "-12", false},
	}
	for _, tc := range tests {
		if got := CatchmentCovers(tc.catchment, tc.code); got != tc.want {
			t.Errorf("CatchmentCovers(%q, %q) = %v, want %v", tc.catchment, tc.code, got, tc.want)
		}
	}
}

func TestValidateProfiles(t *testing.T) {
	tests := []struct {
		name    string
		ps      []Profile
		wantErr string
	}{
		{"seed 003 example", []Profile{
			{Type: ProfileProvider, ID: "123", Catchment: []string{"302618", "302614"}},
			{Type: ProfileAdmin, ID: "2", Catchment: []string{"3026"}},
			{Type: ProfileFacility, ID: "10000069", Catchment: []string{"302618"}},
			{Type: ProfilePatient, ID: "10091232131", Catchment: []string{}},
		}, ""},
		{"none", nil, ""},
		{"unknown type", []Profile{{Type: "nurse", ID: "1"}}, `profile type "nurse"`},
		{"empty id", []Profile{{Type: ProfileProvider, ID: " "}}, "needs an id"},
		{"letters in catchment", []Profile{{Type: ProfileProvider, ID: "1", Catchment: []string{"30x"}}}, "must be digits"},
		{"empty catchment", []Profile{{Type: ProfileProvider, ID: "1", Catchment: []string{""}}}, "must be digits"},
		{"duplicate", []Profile{{Type: ProfileAdmin, ID: "1"}, {Type: ProfileAdmin, ID: "1"}}, "listed twice"},
		{"same id, other type", []Profile{{Type: ProfileAdmin, ID: "1"}, {Type: ProfileProvider, ID: "1"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateProfiles(tc.ps)
			checkInvalid(t, err, tc.wantErr)
		})
	}
}

func checkInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), want) {
		t.Fatalf("err = %v, want Invalid containing %q", err, want)
	}
}

func TestValidateEmail(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"ann@example.org", ""},
		{"ann.b+tag@sub.example.org", ""},
		{"Ann <ann@example.org>", "not a valid email"},
		{"<ann@example.org>", "not a valid email"},
		{" ann@example.org", "not a valid email"},
		{"ann", "not a valid email"},
		{"ann@", "not a valid email"},
		{"", "required"},
		{strings.Repeat("a", 250) + "@x.org", "longer than 254"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			checkInvalid(t, ValidateEmail(tc.in), tc.wantErr)
		})
	}
}

func TestValidatePassword(t *testing.T) {
	checkInvalid(t, ValidatePassword("vgkeqxtb", ""), "")
	checkInvalid(t, ValidatePassword("ñññññññß", ""), "") // 8 characters, more bytes
	checkInvalid(t, ValidatePassword("abcdefg", ""), "at least 8")
	checkInvalid(t, ValidatePassword("", ""), "at least 8")
	checkInvalid(t, ValidatePassword(strings.Repeat("x", MaxPasswordLength+1), ""), "at most")
	checkInvalid(t, ValidatePassword("abcdefg\xff", ""), "UTF-8")
	// The published list of common passwords, ignoring case.
	for _, pw := range []string{"password", "12345678", "Baseball1", "qwertyuiop", "iloveyou1"} {
		checkInvalid(t, ValidatePassword(pw, ""), "most commonly used")
	}
	// The email's local part, ignoring case, from 3 characters on.
	checkInvalid(t, ValidatePassword("Margaret-1952!", "margaret@example.org"), "name part")
	checkInvalid(t, ValidatePassword("xxMARGARETxx", "Margaret@x.org"), "name part")
	checkInvalid(t, ValidatePassword("my bob password", "bob@example.org"), "name part")
	checkInvalid(t, ValidatePassword("al-is-my-name", "al@example.org"), "")
	checkInvalid(t, ValidatePassword("river stone tide", "margaret@example.org"), "")
}

func TestValidateUser(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		mod     func(*User)
		wantErr string
	}{
		{"valid", func(*User) {}, ""},
		{"no email is fine", func(u *User) { u.Email = "" }, ""},
		{"display-name email", func(u *User) { u.Email = "Ann <a@example.org>" }, "not a valid email"},
		{"birth date today", func(u *User) { u.BirthDate = "2025-06-01" }, ""},
		{"birth date tomorrow", func(u *User) { u.BirthDate = "2025-06-02" }, "in the future"},
		{"birth date not a date", func(u *User) { u.BirthDate = "1980-02-30" }, "YYYY-MM-DD"},
		{"birth date other format", func(u *User) { u.BirthDate = "01/02/1980" }, "YYYY-MM-DD"},
		{"gender unknown", func(u *User) { u.Gender = "unknown" }, ""},
		{"gender not FHIR", func(u *User) { u.Gender = "m" }, `gender "m"`},
		{"image URL not absolute", func(u *User) { u.ImageURL = "/me.png" }, "absolute"},
		{"race coding without code", func(u *User) { u.Races = []Coding{{System: "urn:race"}} }, "system and a code"},
		{"two problems at once", func(u *User) { u.Gender = "x"; u.BirthDate = "2099-01-01" }, "in the future; gender"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := User{Email: "ann@example.org", BirthDate: "1980-02-29", Gender: "female",
				ImageURL: "https://example.org/me.png"}
			tc.mod(&u)
			checkInvalid(t, validateUser(&u, now), tc.wantErr)
		})
	}
}

func TestValidateOrganization(t *testing.T) {
	tests := []struct {
		name    string
		o       Organization
		wantErr string
	}{
		{"valid", Organization{Name: "Clinic", PartOfID: 3}, ""},
		{"no name", Organization{Name: "  "}, "name is required"},
		{"own parent", Organization{ID: 4, Name: "C", PartOfID: 4}, "part of itself"},
		{"negative parent", Organization{Name: "C", PartOfID: -1}, "positive"},
		{"identifier without system", Organization{Name: "C", Identifiers: []Identifier{{Value: "x"}}}, "system is required"},
		{"duplicate identifier", Organization{Name: "C", Identifiers: []Identifier{
			{System: ShortcutAliasSystem, Value: "x"}, {System: ShortcutAliasSystem, Value: "x", Use: "official"}}}, "listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkInvalid(t, validateOrganization(&tc.o), tc.wantErr)
		})
	}
}

func TestValidateRoleNames(t *testing.T) {
	got, err := validateRoleNames([]string{RoleStaff, RolePatient, RoleStaff})
	if err != nil || len(got) != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
	_, err = validateRoleNames([]string{RoleStaff, "wizard"})
	checkInvalid(t, err, `unknown role "wizard"`)
}
