package mistest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Profile is a person in the test MIS.
type Profile struct {
	ID           int
	Identifier   string
	GivenName    string
	MiddleName   string
	FamilyName   string
	DOB          string
	Sex          string
	Phase        string
	Completeness int
}

// Group is a group of the test MIS's organization.
type Group struct {
	ID         int
	Identifier string
	Name       string
	ParentID   int
}

// Registration is a profile's registration into a group.
type Registration struct {
	ID, ProfileID, GroupID int
	Type                   string
	Deactivated            *time.Time
}

// User is a login attached to a profile.
type User struct {
	Email, GivenName, FamilyName, Phone string
}

// Review is one health-form review.
type Review struct {
	Status   string
	At       time.Time
	Sticky   bool
	Provider string
}

// AddProfile stores p (a zero ID is assigned) and returns it.
func (s *Server) AddProfile(p Profile) Profile { return add(s, s.profiles, &p, &p.ID) }

// AddGroup stores g (a zero ID is assigned) and returns it.
func (s *Server) AddGroup(g Group) Group { return add(s, s.groups, &g, &g.ID) }

// add stores v under *id, assigning one when zero.
func add[T any](s *Server, m map[int]*T, v *T, id *int) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *id == 0 {
		*id = s.id()
	}
	m[*id] = v
	return *v
}

// AddReview records a review of profile id under name.
func (s *Server) AddReview(profileID int, name string, r Review) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reviews[profileID] == nil {
		s.reviews[profileID] = map[string]Review{}
	}
	s.reviews[profileID][name] = r
}

// Profiles returns every profile, by id.
func (s *Server) Profiles() []Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Profile
	for _, id := range sortedKeys(s.profiles) {
		out = append(out, *s.profiles[id])
	}
	return out
}

// Registrations returns the registrations of profile id, by id.
func (s *Server) Registrations(profileID int) []Registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registrationsOf(profileID)
}

// Users returns the users attached to profile id.
func (s *Server) Users(profileID int) []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.users[profileID])
}

func (s *Server) id() int { s.nextID++; return s.nextID }

func sortedKeys[V any](m map[int]V) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (s *Server) registrationsOf(profileID int) []Registration {
	var out []Registration
	for _, id := range sortedKeys(s.regs) {
		if r := s.regs[id]; r.ProfileID == profileID {
			out = append(out, *r)
		}
	}
	return out
}

// Wire shapes (CampDoc's V2 JSON).

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (p Profile) wire() map[string]any {
	return map[string]any{"id": p.ID, "identifier": nullable(p.Identifier), "givenName": p.GivenName,
		"middleName": nullable(p.MiddleName), "familyName": p.FamilyName, "dob": nullable(p.DOB),
		"sex": nullable(p.Sex), "phase": nullable(p.Phase), "completeness": p.Completeness}
}

func (s *Server) groupWire(g Group, full bool) map[string]any {
	var parents []int
	for cur := &g; cur != nil; {
		parents = append([]int{cur.ID}, parents...)
		if cur.ParentID == 0 || len(parents) > 64 {
			break
		}
		cur = s.groups[cur.ParentID]
	}
	m := map[string]any{"id": g.ID, "name": g.Name, "groupIdentifier": nullable(g.Identifier), "parents": parents, "parentID": nil}
	if g.ParentID != 0 {
		m["parentID"] = g.ParentID
	}
	if full {
		m["phase"] = "present"
	}
	return m
}

func (s *Server) regWire(r Registration) map[string]any {
	m := map[string]any{"id": r.ID, "profileID": r.ProfileID, "groupID": r.GroupID, "type": r.Type,
		"waitlisted": false, "deactivated": nil}
	if g := s.groups[r.GroupID]; g != nil {
		m["groupName"] = g.Name
		m["groupIdentifier"] = nullable(g.Identifier)
	}
	if r.Deactivated != nil {
		m["deactivated"] = r.Deactivated.UTC().Format("2006-01-02 15:04:05.000")
	}
	return m
}

// api wraps an API handler: organization check, bearer token, lock.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("org") != s.opts.OrgID {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
			return
		}
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		s.mu.Lock()
		defer s.mu.Unlock()
		h(w, r)
	}
}

// withProfile finds the profile {pid} names, or answers 404.
func (s *Server) withProfile(h func(http.ResponseWriter, *http.Request, *Profile)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		p := s.profile(r)
		if p == nil {
			apiError(w, http.StatusNotFound, "not_found")
			return
		}
		h(w, r, p)
	}
}

func (s *Server) apiRoutes(mux *http.ServeMux) {
	p := APIPrefix + "{org}"
	mux.HandleFunc("GET "+p+"/profiles", s.api(s.listProfiles))
	mux.HandleFunc("POST "+p+"/profiles", s.api(s.createProfile))
	mux.HandleFunc("GET "+p+"/profiles/{pid}", s.api(s.withProfile(s.getProfile)))
	mux.HandleFunc("PUT "+p+"/profiles/{pid}", s.api(s.withProfile(s.updateProfile)))
	mux.HandleFunc("GET "+p+"/profiles/{pid}/reviews", s.api(s.withProfile(s.getReviews)))
	mux.HandleFunc("GET "+p+"/profiles/{pid}/registrations", s.api(s.withProfile(s.listRegistrations)))
	mux.HandleFunc("POST "+p+"/profiles/{pid}/registrations", s.api(s.withProfile(s.createRegistration)))
	mux.HandleFunc("DELETE "+p+"/profiles/{pid}/registrations/{rid}", s.api(s.withProfile(s.deactivateRegistration)))
	mux.HandleFunc("POST "+p+"/profiles/{pid}/users", s.api(s.withProfile(s.createUser)))
	mux.HandleFunc("GET "+p+"/groups", s.api(s.listGroups))
	mux.HandleFunc("GET "+p+"/groups/{gid}", s.api(s.getGroup))
	mux.HandleFunc("POST "+p+"/sso/{email}", s.api(s.sso))
}

func apiError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}

// page reads page (from 1) and limit (default and cap MaxPageSize).
func page(r *http.Request) (offset, limit int, ok bool) {
	q := r.URL.Query()
	pg, limit := 1, MaxPageSize
	var err error
	if v := q.Get("page"); v != "" {
		if pg, err = strconv.Atoi(v); err != nil || pg < 1 {
			return 0, 0, false
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return 0, 0, false
		}
	}
	limit = min(limit, MaxPageSize)
	return (pg - 1) * limit, limit, true
}

func window[T any](all []T, offset, limit int) []T {
	if offset >= len(all) {
		return []T{}
	}
	return all[offset:min(offset+limit, len(all))]
}

func (s *Server) listProfiles(w http.ResponseWriter, r *http.Request) {
	off, lim, ok := page(r)
	if !ok {
		apiError(w, http.StatusBadRequest, "invalid_pagination")
		return
	}
	out := []map[string]any{}
	for _, id := range window(sortedKeys(s.profiles), off, lim) {
		out = append(out, s.profiles[id].wire())
	}
	writeJSON(w, http.StatusOK, map[string]any{"profiles": out})
}

// profile finds {pid}: CampDoc's id, or the identifier with ?identifier=true.
func (s *Server) profile(r *http.Request) *Profile {
	pid := r.PathValue("pid")
	if r.URL.Query().Get("identifier") == "true" {
		for _, id := range sortedKeys(s.profiles) {
			if p := s.profiles[id]; p.Identifier == pid {
				return p
			}
		}
		return nil
	}
	id, err := strconv.Atoi(pid)
	if err != nil {
		return nil
	}
	return s.profiles[id]
}

type profileBody struct {
	Identifier *string `json:"identifier"`
	GivenName  *string `json:"givenName"`
	MiddleName *string `json:"middleName"`
	FamilyName *string `json:"familyName"`
	DOB        *string `json:"dob"`
	Sex        *string `json:"sex"`
}

func (b profileBody) apply(p *Profile) {
	for _, f := range []struct {
		src *string
		dst *string
	}{{b.GivenName, &p.GivenName}, {b.MiddleName, &p.MiddleName}, {b.FamilyName, &p.FamilyName}, {b.DOB, &p.DOB}, {b.Sex, &p.Sex}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_json")
		return false
	}
	return true
}

func (s *Server) createProfile(w http.ResponseWriter, r *http.Request) {
	var b profileBody
	if !readJSON(w, r, &b) {
		return
	}
	if b.GivenName == nil || *b.GivenName == "" || b.FamilyName == nil || *b.FamilyName == "" {
		apiError(w, http.StatusBadRequest, "givenName_and_familyName_required")
		return
	}
	p := &Profile{ID: s.id(), Phase: "present"}
	if b.Identifier != nil && *b.Identifier != "" {
		for _, q := range s.profiles {
			if q.Identifier == *b.Identifier {
				apiError(w, http.StatusConflict, "identifier_taken")
				return
			}
		}
		p.Identifier = *b.Identifier
	}
	b.apply(p)
	s.profiles[p.ID] = p
	writeJSON(w, http.StatusCreated, p.wire()) // bare, as CampDoc documents
}

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request, p *Profile) {
	writeJSON(w, http.StatusOK, map[string]any{"profile": p.wire()})
}

func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request, p *Profile) {
	var b profileBody
	if !readJSON(w, r, &b) {
		return
	}
	if b.GivenName != nil && *b.GivenName == "" || b.FamilyName != nil && *b.FamilyName == "" {
		apiError(w, http.StatusBadRequest, "required_field_null")
		return
	}
	b.apply(p)
	writeJSON(w, http.StatusOK, p.wire())
}

func (s *Server) getReviews(w http.ResponseWriter, r *http.Request, p *Profile) {
	rv := map[string]any{}
	for name, v := range s.reviews[p.ID] {
		rv[name] = map[string]any{"status": v.Status, "timestamp": v.At.UTC().Format(time.RFC3339Nano),
			"sticky": v.Sticky, "provider": map[string]string{"name": v.Provider}}
	}
	writeJSON(w, http.StatusOK, map[string]any{"profile": p.wire(), "reviews": rv})
}

func (s *Server) listRegistrations(w http.ResponseWriter, r *http.Request, p *Profile) {
	out := []map[string]any{}
	for _, reg := range s.registrationsOf(p.ID) {
		out = append(out, s.regWire(reg))
	}
	writeJSON(w, http.StatusOK, map[string]any{"registrations": out})
}

func (s *Server) createRegistration(w http.ResponseWriter, r *http.Request, p *Profile) {
	var b struct {
		GroupID         *int    `json:"groupID"`
		GroupIdentifier *string `json:"groupIdentifier"`
		Type            string  `json:"type"`
	}
	if !readJSON(w, r, &b) {
		return
	}
	if b.Type != "patient" && b.Type != "provider" {
		apiError(w, http.StatusBadRequest, "invalid_type")
		return
	}
	var g *Group
	switch {
	case b.GroupIdentifier != nil: // takes priority, as CampDoc documents
		for _, id := range sortedKeys(s.groups) {
			if s.groups[id].Identifier == *b.GroupIdentifier {
				g = s.groups[id]
			}
		}
	case b.GroupID != nil:
		g = s.groups[*b.GroupID]
	}
	if g == nil {
		apiError(w, http.StatusBadRequest, "unknown_group")
		return
	}
	reg := &Registration{ID: s.id(), ProfileID: p.ID, GroupID: g.ID, Type: b.Type}
	s.regs[reg.ID] = reg
	writeJSON(w, http.StatusCreated, map[string]any{"registration": s.regWire(*reg)})
}

func (s *Server) deactivateRegistration(w http.ResponseWriter, r *http.Request, p *Profile) {
	rid, _ := strconv.Atoi(r.PathValue("rid"))
	reg := s.regs[rid]
	if reg == nil || reg.ProfileID != p.ID {
		apiError(w, http.StatusNotFound, "not_found")
		return
	}
	if reg.Deactivated == nil {
		t := s.now()
		reg.Deactivated = &t
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *Profile) {
	var b struct {
		Email      string `json:"email"`
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
		Phone      string `json:"phone"`
	}
	if !readJSON(w, r, &b) {
		return
	}
	if b.Email == "" || b.GivenName == "" || b.FamilyName == "" {
		apiError(w, http.StatusBadRequest, "email_givenName_familyName_required")
		return
	}
	s.users[p.ID] = append(s.users[p.ID], User{Email: b.Email, GivenName: b.GivenName, FamilyName: b.FamilyName, Phone: b.Phone})
	w.WriteHeader(http.StatusCreated) // no body, as CampDoc documents
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	off, lim, ok := page(r)
	if !ok {
		apiError(w, http.StatusBadRequest, "invalid_pagination")
		return
	}
	out := []map[string]any{}
	for _, id := range window(sortedKeys(s.groups), off, lim) {
		out = append(out, s.groupWire(*s.groups[id], false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": out})
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	gid := r.PathValue("gid")
	var g *Group
	if r.URL.Query().Get("identifier") == "true" {
		for _, id := range sortedKeys(s.groups) {
			if s.groups[id].Identifier == gid {
				g = s.groups[id]
			}
		}
	} else if id, err := strconv.Atoi(gid); err == nil {
		g = s.groups[id]
	}
	if g == nil {
		apiError(w, http.StatusNotFound, "not_found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": s.groupWire(*g, true)})
}

func (s *Server) sso(w http.ResponseWriter, r *http.Request) {
	email := r.PathValue("email")
	for _, pid := range sortedKeys(s.users) {
		for _, u := range s.users[pid] {
			if u.Email == email {
				link := s.srv.URL + "/sso/" + s.newSecret("sso")
				writeJSON(w, http.StatusCreated, map[string]any{"sso": map[string]any{
					"url":     link,
					"user":    map[string]string{"email": u.Email, "givenName": u.GivenName, "familyName": u.FamilyName},
					"expires": s.now().Add(time.Hour).UTC().Format(time.RFC3339Nano),
				}})
				return
			}
		}
	}
	apiError(w, http.StatusNotFound, "no_such_user")
}
