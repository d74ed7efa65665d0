package mis

// The CampDoc adapter: every CampDoc wire path, query parameter and JSON
// field name is in this file, nowhere else. The API modelled is CampDoc's
// (DocNetwork's) public V2 API as its public documentation describes it
// (github.com/docnetwork/api, v2/chapters), completed where that is silent
// (pagination) by ward's own assumption; docs/connectors-campdoc.md lists
// both.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// CampDocPageSize is the page size the adapter asks for (the "limit"
// query parameter) when it lists profiles or groups.
const CampDocPageSize = 100

// CampDoc is the Adapter for CampDoc's V2 API. The connector's base URL is
// the organization's API root, for example
// https://app.campdoc.com/public/v2/organizations/12345: every path here is
// relative to it.
type CampDoc struct {
	// PageSize overrides CampDocPageSize (tests use small pages).
	PageSize int
}

var _ Adapter = CampDoc{}

func (a CampDoc) limit() int {
	if a.PageSize > 0 {
		return a.PageSize
	}
	return CampDocPageSize
}

// byIdentifier is CampDoc's switch to address a profile by the
// organization's identifier instead of CampDoc's id.
var byIdentifier = url.Values{"identifier": {"true"}}

// cdProfile is CampDoc's profile object.
type cdProfile struct {
	ID           cdID   `json:"id"`
	Identifier   cdID   `json:"identifier"`
	GivenName    string `json:"givenName"`
	MiddleName   string `json:"middleName"`
	FamilyName   string `json:"familyName"`
	DOB          string `json:"dob"`
	Sex          string `json:"sex"`
	Phase        string `json:"phase"`
	Completeness int    `json:"completeness"`
}

func (p cdProfile) model() Profile {
	return Profile{ID: string(p.ID), Identifier: string(p.Identifier), GivenName: p.GivenName,
		MiddleName: p.MiddleName, FamilyName: p.FamilyName, DOB: p.DOB, Sex: p.Sex,
		Phase: p.Phase, Completeness: p.Completeness}
}

// cdProfileInput is a profile to create or update: absent fields are
// left unchanged by an update.
type cdProfileInput struct {
	Identifier string `json:"identifier,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	MiddleName string `json:"middleName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	DOB        string `json:"dob,omitempty"`
	Sex        string `json:"sex,omitempty"`
}

func profileInput(identifier string, in ProfileInput) cdProfileInput {
	return cdProfileInput{Identifier: identifier, GivenName: in.GivenName, MiddleName: in.MiddleName,
		FamilyName: in.FamilyName, DOB: in.DOB, Sex: in.Sex}
}

type cdRegistration struct {
	ID          cdID    `json:"id"`
	ProfileID   cdID    `json:"profileID"`
	GroupID     cdID    `json:"groupID"`
	Type        string  `json:"type"`
	Waitlisted  bool    `json:"waitlisted"`
	GroupName   string  `json:"groupName"`
	Deactivated *string `json:"deactivated"`
}

func (r cdRegistration) model() Registration {
	return Registration{ID: string(r.ID), ProfileID: string(r.ProfileID), GroupID: string(r.GroupID),
		Type: r.Type, Waitlisted: r.Waitlisted, GroupName: r.GroupName, Deactivated: cdTime(r.Deactivated)}
}

type cdGroup struct {
	ID              cdID   `json:"id"`
	GroupIdentifier cdID   `json:"groupIdentifier"`
	Name            string `json:"name"`
	ParentID        cdID   `json:"parentID"`
	Parents         []cdID `json:"parents"`
	Start           string `json:"start"`
	Finish          string `json:"finish"`
	Phase           string `json:"phase"`
}

func (g cdGroup) model() Group {
	out := Group{ID: string(g.ID), Identifier: string(g.GroupIdentifier), Name: g.Name,
		ParentID: string(g.ParentID), Start: g.Start, Finish: g.Finish, Phase: g.Phase}
	for _, p := range g.Parents {
		out.Parents = append(out.Parents, string(p))
	}
	return out
}

type cdUser struct {
	Email      string `json:"email"`
	GivenName  string `json:"givenName"`
	FamilyName string `json:"familyName"`
	Phone      string `json:"phone,omitempty"`
}

type cdReview struct {
	Status    string  `json:"status"`
	Timestamp *string `json:"timestamp"`
	Sticky    bool    `json:"sticky"`
	Provider  *struct {
		Name string `json:"name"`
	} `json:"provider"`
}

// FindProfile is GET /profiles/{identifier}?identifier=true → {"profile": …}.
func (CampDoc) FindProfile(identifier string) Call[Profile] {
	return Call[Profile]{Method: http.MethodGet, Route: "/profiles/{identifier}?identifier=true",
		Path: "/profiles/" + url.PathEscape(identifier), Query: byIdentifier, Decode: decodeProfile}
}

// UpdateProfile is PUT /profiles/{id} with the fields to change.
func (CampDoc) UpdateProfile(profileID string, in ProfileInput) Call[Profile] {
	return Call[Profile]{Method: http.MethodPut, Route: "/profiles/{id}",
		Path: "/profiles/" + url.PathEscape(profileID), Body: profileInput("", in), Decode: decodeProfile}
}

// CreateProfile is POST /profiles with the identifier among the fields.
func (CampDoc) CreateProfile(identifier string, in ProfileInput) Call[Profile] {
	return Call[Profile]{Method: http.MethodPost, Route: "/profiles",
		Path: "/profiles", Body: profileInput(identifier, in), Decode: decodeProfile}
}

// ListProfiles is GET /profiles?page=N&limit=L → {"profiles": […]}.
func (a CampDoc) ListProfiles(cursor string) Call[Page[Profile]] {
	return listCall(a, "/profiles", cursor, "profiles", cdProfile.model)
}

// ProfileRegistrations is GET /profiles/{id}/registrations → {"registrations": […]}.
func (CampDoc) ProfileRegistrations(profileID string) Call[[]Registration] {
	return Call[[]Registration]{Method: http.MethodGet, Route: "/profiles/{id}/registrations",
		Path: "/profiles/" + url.PathEscape(profileID) + "/registrations",
		Decode: func(b []byte) ([]Registration, error) {
			var env struct {
				Registrations []cdRegistration `json:"registrations"`
			}
			if err := decode(b, &env); err != nil {
				return nil, err
			}
			return mapSlice(env.Registrations, cdRegistration.model), nil
		}}
}

// ProfileReviews is GET /profiles/{id}/reviews → {"profile": …, "reviews": {name: …}}.
func (CampDoc) ProfileReviews(profileID string) Call[Reviews] {
	return Call[Reviews]{Method: http.MethodGet, Route: "/profiles/{id}/reviews",
		Path: "/profiles/" + url.PathEscape(profileID) + "/reviews",
		Decode: func(b []byte) (Reviews, error) {
			var env struct {
				Profile cdProfile           `json:"profile"`
				Reviews map[string]cdReview `json:"reviews"`
			}
			if err := decode(b, &env); err != nil {
				return Reviews{}, err
			}
			out := Reviews{Profile: env.Profile.model(), Reviews: map[string]Review{}}
			for name, r := range env.Reviews {
				rv := Review{Status: r.Status, Sticky: r.Sticky}
				if t := cdTime(r.Timestamp); t != nil {
					rv.At = *t
				}
				if r.Provider != nil {
					rv.Provider = r.Provider.Name
				}
				out.Reviews[name] = rv
			}
			return out, nil
		}}
}

// CreateRegistration is POST /profiles/{id}/registrations with
// {"groupID": n, "type": t} for a numeric group id, or {"groupIdentifier":
// s, "type": t} for the organization's own group identifier (CampDoc takes
// either) → 201 {"registration": …}.
func (CampDoc) CreateRegistration(profileID, groupID, typ string) Call[Registration] {
	body := map[string]any{"type": typ}
	if n, err := strconv.ParseInt(groupID, 10, 64); err == nil {
		body["groupID"] = n
	} else {
		body["groupIdentifier"] = groupID
	}
	return Call[Registration]{Method: http.MethodPost, Route: "/profiles/{id}/registrations",
		Path: "/profiles/" + url.PathEscape(profileID) + "/registrations", Body: body,
		Decode: func(b []byte) (Registration, error) {
			var env struct {
				Registration cdRegistration `json:"registration"`
			}
			err := decode(b, &env)
			return env.Registration.model(), err
		}}
}

// DeactivateRegistration is DELETE /profiles/{id}/registrations/{rid} → 204.
func (CampDoc) DeactivateRegistration(profileID, registrationID string) Call[struct{}] {
	return Call[struct{}]{Method: http.MethodDelete, Route: "/profiles/{id}/registrations/{registration_id}",
		Path:   "/profiles/" + url.PathEscape(profileID) + "/registrations/" + url.PathEscape(registrationID),
		Decode: func([]byte) (struct{}, error) { return struct{}{}, nil }}
}

// CreateUser is POST /profiles/{identifier}/users?identifier=true with
// the user → 201, with no body documented (the user sent is returned).
func (CampDoc) CreateUser(profileIdentifier string, in UserInput) Call[User] {
	//lint:ignore S1016 the wire shape must not follow the domain type's fields by accident
	sent := cdUser{Email: in.Email, GivenName: in.GivenName, FamilyName: in.FamilyName, Phone: in.Phone}
	return Call[User]{Method: http.MethodPost, Route: "/profiles/{identifier}/users?identifier=true",
		Path: "/profiles/" + url.PathEscape(profileIdentifier) + "/users", Query: byIdentifier, Body: sent,
		Decode: func(b []byte) (User, error) {
			u := sent
			if len(bytes.TrimSpace(b)) > 0 {
				var env struct {
					User *cdUser `json:"user"`
				}
				if err := decode(b, &env); err != nil {
					return User{}, err
				}
				if env.User != nil {
					u = *env.User
				}
			}
			return User{Email: u.Email, GivenName: u.GivenName, FamilyName: u.FamilyName}, nil
		}}
}

// Group is GET /groups/{id} → {"group": …}.
func (CampDoc) Group(groupID string) Call[Group] {
	return Call[Group]{Method: http.MethodGet, Route: "/groups/{id}",
		Path: "/groups/" + url.PathEscape(groupID),
		Decode: func(b []byte) (Group, error) {
			var env struct {
				Group *cdGroup `json:"group"`
			}
			if err := decode(b, &env); err != nil {
				return Group{}, err
			}
			if env.Group == nil {
				return Group{}, fmt.Errorf("campdoc: no \"group\" in the response")
			}
			return env.Group.model(), nil
		}}
}

// ListGroups is GET /groups?page=N&limit=L → {"groups": […]}.
func (a CampDoc) ListGroups(cursor string) Call[Page[Group]] {
	return listCall(a, "/groups", cursor, "groups", cdGroup.model)
}

// SSO is POST /sso/{email} → 201 {"sso": {"url": …, "expires": …}}.
func (CampDoc) SSO(email string) Call[SSOLink] {
	return Call[SSOLink]{Method: http.MethodPost, Route: "/sso/{email}",
		Path: "/sso/" + url.PathEscape(email),
		Decode: func(b []byte) (SSOLink, error) {
			var env struct {
				SSO *struct {
					URL     string  `json:"url"`
					Expires *string `json:"expires"`
				} `json:"sso"`
			}
			if err := decode(b, &env); err != nil {
				return SSOLink{}, err
			}
			if env.SSO == nil || env.SSO.URL == "" {
				return SSOLink{}, fmt.Errorf("campdoc: no \"sso.url\" in the response")
			}
			out := SSOLink{URL: env.SSO.URL}
			if t := cdTime(env.SSO.Expires); t != nil {
				out.Expires = *t
			}
			return out, nil
		}}
}

// listCall is one page of a CampDoc list. CampDoc's documentation shows
// lists as one array under a key and says nothing of pages; ward asks for
// page (from 1) and limit, and takes a page shorter than limit as the
// last. A page longer than limit means the MIS ignored the parameters and
// sent everything at once: that page is the last too, so a MIS without
// pagination is read once rather than in a loop.
func listCall[W any, T any](a CampDoc, path, cursor, key string, model func(W) T) Call[Page[T]] {
	page := 1
	if n, err := strconv.Atoi(cursor); err == nil && n > 1 {
		page = n
	}
	limit := a.limit()
	return Call[Page[T]]{Method: http.MethodGet, Route: path,
		Path:  path,
		Query: url.Values{"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(limit)}},
		Decode: func(b []byte) (Page[T], error) {
			var env map[string]json.RawMessage
			if err := decode(b, &env); err != nil {
				return Page[T]{}, err
			}
			raw, ok := env[key]
			if !ok {
				return Page[T]{}, fmt.Errorf("campdoc: no %q in the response", key)
			}
			var items []W
			if err := decode(raw, &items); err != nil {
				return Page[T]{}, err
			}
			out := Page[T]{Items: mapSlice(items, model)}
			if len(items) == limit {
				out.Next = strconv.Itoa(page + 1)
			}
			return out, nil
		}}
}

// decodeProfile reads a profile either wrapped ({"profile": …}, as GET
// answers) or bare (as CampDoc documents POST and PUT answering).
func decodeProfile(b []byte) (Profile, error) {
	var env struct {
		Profile *cdProfile `json:"profile"`
	}
	if err := decode(b, &env); err != nil {
		return Profile{}, err
	}
	if env.Profile != nil {
		return env.Profile.model(), nil
	}
	var p cdProfile
	if err := decode(b, &p); err != nil {
		return Profile{}, err
	}
	if p.ID == "" {
		return Profile{}, fmt.Errorf("campdoc: no profile id in the response")
	}
	return p.model(), nil
}

// decode parses JSON; its errors never quote the body (which is PHI).
func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("campdoc: response is not JSON (offset %d)", se.Offset)
		case errors.As(err, &te):
			return fmt.Errorf("campdoc: response field %q has type %s, want %s", te.Field, te.Value, te.Type)
		}
		return fmt.Errorf("campdoc: unreadable response")
	}
	return nil
}

// cdID is a CampDoc id or identifier: a JSON number, string or null,
// kept as a string.
type cdID string

func (id *cdID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*id = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = cdID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*id = cdID(n.String())
	return nil
}

// cdTime parses CampDoc's timestamps: RFC 3339 ("2014-07-15T13:55:33.941Z")
// or the registration style ("2018-01-01 17:30:17.829", UTC). A set but
// unreadable value is the zero time, so a deactivated registration still
// reads as deactivated.
func cdTime(s *string) *time.Time {
	if s == nil || *s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, *s); err == nil {
			t = t.UTC()
			return &t
		}
	}
	return &time.Time{}
}

func mapSlice[A, B any](in []A, f func(A) B) []B {
	out := make([]B, 0, len(in))
	for _, a := range in {
		out = append(out, f(a))
	}
	return out
}
