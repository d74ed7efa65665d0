// Package demo fills an empty ward instance with a small, realistic and
// clearly fake data set, so that a new user's first searches and exports
// come back with something in them: an organization tree, staff, patients
// with consents, observations and procedures, a SMART patient app and a
// backend services client.
//
// Everything is created through the domain services, never the store, so
// the same rules apply as for any other caller and the audit trail records
// every row. The whole set is created in one transaction: a run that fails
// leaves the instance as empty as it found it.
package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/oauth/tokens"
	"ward/internal/store"
)

// Deps are the services Load works through.
type Deps struct {
	Tx        store.Transactor
	Directory *directory.Service
	Clinical  *clinical.Service
	Clients   *client.Service
	// Now is the clock the data's dates are counted back from; nil is
	// time.Now.
	Now func() time.Time
}

// Options tune Load.
type Options struct {
	// Password is every demo account's password; empty generates a random
	// one (see NewPassword), so no two instances share one.
	Password string
}

// The two clients' settings. The backend may read everything and export;
// the app is a SMART patient app on a developer's machine.
const (
	AppName        = "Demo Patient Diary"
	AppRedirectURI = "http://localhost:8000/callback"
	AppScope       = "openid fhirUser offline_access launch/patient patient/*.rs"
	BackendName    = "Demo Analytics Backend"
	BackendScope   = "system/*.rs system/*.$export system/*.$bulkdata-status"
)

// Account is a demo account.
type Account struct {
	ID    int64    `json:"id"`
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// OrganizationID is the account's organization, 0 for none.
	OrganizationID int64 `json:"organization_id,omitempty"`
}

// Organization is a demo organization.
type Organization struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Alias string `json:"alias"`
	// PartOf is the parent organization's id, 0 for the root.
	PartOf int64 `json:"part_of,omitempty"`
}

// Patient is a demo patient.
type Patient struct {
	ID             int64  `json:"id"`
	Email          string `json:"email"`
	Name           string `json:"name"`
	BirthDate      string `json:"birth_date"`
	MRN            string `json:"mrn"`
	OrganizationID int64  `json:"organization_id"`
	Observations   int    `json:"observations"`
	Procedures     int    `json:"procedures"`
}

// Client is a demo OAuth client. Secret is empty for the public app.
type Client struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Name         string   `json:"client_name"`
	Scope        string   `json:"scope"`
	GrantTypes   []string `json:"grant_types"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
}

// Counts says how much of each kind Load created.
type Counts struct {
	Organizations int `json:"organizations"`
	Staff         int `json:"staff"`
	Patients      int `json:"patients"`
	Consents      int `json:"consents"`
	Observations  int `json:"observations"`
	Procedures    int `json:"procedures"`
	Clients       int `json:"clients"`
}

// Result is what Load created, secrets included: the caller prints it once.
type Result struct {
	// Password signs in every demo account, staff and patients alike.
	Password      string         `json:"password"`
	Admin         Account        `json:"admin"`
	StaffAdmin    Account        `json:"staff_admin"`
	Staff         []Account      `json:"staff"`
	Organizations []Organization `json:"organizations"`
	Patients      []Patient      `json:"patients"`
	PatientApp    Client         `json:"patient_app"`
	Backend       Client         `json:"backend_client"`
	Counts        Counts         `json:"counts"`
}

// NotEmptyError is Load's refusal of an instance that already holds data:
// demo data must never mix with real data, nor a second demo with a first.
type NotEmptyError struct {
	Users, Organizations, Clients int
}

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("this instance is not empty (%d users, %d organizations, %d clients): demo data goes only into an empty instance",
		e.Users, e.Organizations, e.Clients)
}

// passwordAlphabet leaves out letters and digits that look alike (0/o, 1/l/i).
const passwordAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// NewPassword returns a random password of four groups of four characters
// (about 79 bits), easy to type and safe to paste into a shell unquoted. It
// cannot contain any demo email's name part: every one is five characters
// or more, or holds a dot.
func NewPassword() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		// 256 is not a multiple of 31: the first 8 letters are a little
		// likelier (9 in 256 against 8 in 256), which costs under 0.1 bit
		// a character.
		sb.WriteByte(passwordAlphabet[int(c)%len(passwordAlphabet)])
	}
	return sb.String(), nil
}

// Empty returns nil when the instance holds no user (deleted ones
// included), no organization and no client but the built-in one for
// service accounts, and a *NotEmptyError
// otherwise. ctx must act as ward itself.
func Empty(ctx context.Context, d Deps) error {
	users, err := d.Directory.CountUsers(ctx, directory.UserFilter{IncludeDeleted: true})
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	orgCount, err := d.Directory.CountOrganizations(ctx)
	if err != nil {
		return fmt.Errorf("count organizations: %w", err)
	}
	cs, _, err := d.Clients.List(ctx, client.Filter{}, store.Page{Limit: store.MaxLimit})
	if err != nil {
		return fmt.Errorf("list clients: %w", err)
	}
	clients := 0
	for _, c := range cs {
		// The migrations register the service accounts' client in every
		// instance; it is not data anyone added.
		if c.ID != tokens.ServiceClientID {
			clients++
		}
	}
	if users+orgCount+clients > 0 {
		return &NotEmptyError{Users: users, Organizations: orgCount, Clients: clients}
	}
	return nil
}

// Load checks that the instance is empty (see Empty) and fills it, in one
// transaction. Accounts, organizations and clients are created as ward
// itself, as the command line does; each clinic's clinician records its
// patients' consents, observations and procedures, so the audit trail
// reads as a clinic's would.
func Load(ctx context.Context, d Deps, opt Options) (*Result, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	pw := opt.Password
	if pw == "" {
		var err error
		if pw, err = NewPassword(); err != nil {
			return nil, err
		}
	}
	sys := actor.System(ctx)
	var res *Result
	err := d.Tx.InTx(sys, func(ctx context.Context) error {
		if err := Empty(ctx, d); err != nil {
			return err
		}
		l := &loader{d: d, now: now().UTC(), password: pw, res: &Result{Password: pw}}
		if err := l.load(ctx); err != nil {
			return err
		}
		res = l.res
		return nil
	})
	if err != nil {
		var ne *NotEmptyError
		if errors.As(err, &ne) {
			return nil, err
		}
		return nil, fmt.Errorf("load demo data: %w", err)
	}
	return res, nil
}

// loader carries one Load's state.
type loader struct {
	d        Deps
	now      time.Time
	password string
	res      *Result
	orgIDs   []int64
	staffIDs map[string]int64
}

func (l *loader) load(ctx context.Context) error {
	if err := l.organizations(ctx); err != nil {
		return err
	}
	if err := l.staff(ctx); err != nil {
		return err
	}
	for i := range patients {
		if err := l.patient(ctx, i); err != nil {
			return err
		}
	}
	if err := l.clients(ctx); err != nil {
		return err
	}
	c := &l.res.Counts
	c.Organizations, c.Staff, c.Patients = len(l.res.Organizations), len(l.res.Staff), len(l.res.Patients)
	c.Consents, c.Clients = len(l.res.Patients), 2
	for _, p := range l.res.Patients {
		c.Observations += p.Observations
		c.Procedures += p.Procedures
	}
	return nil
}

func (l *loader) organizations(ctx context.Context) error {
	for i, o := range orgs {
		var parent int64
		if o.parent >= 0 {
			parent = l.orgIDs[o.parent]
		}
		created, err := l.d.Directory.CreateOrganization(ctx, &directory.Organization{
			Name:        o.name,
			PartOfID:    parent,
			Identifiers: []directory.Identifier{{System: directory.ShortcutAliasSystem, Value: o.alias}},
			Type:        []directory.Coding{{System: orgTypeSystem, Code: o.typeCode, Display: o.typeDisplay}},
			Telecom: []directory.ContactPoint{
				{System: "phone", Value: fmt.Sprintf("+1-202-555-01%02d", 10+i), Use: "work"},
				{System: "email", Value: o.alias + "@" + Domain, Use: "work"},
			},
			Addresses: []directory.Address{{
				Use: "work", Line: []string{fmt.Sprintf("%d Example Street", 10*(i+1))},
				City: o.city, PostalCode: fmt.Sprintf("DM%d 0%dX", i+1, i+1), Country: "Demoland",
			}},
			Timezone:      "UTC",
			DefaultLocale: "en-US",
		})
		if err != nil {
			return fmt.Errorf("organization %s: %w", o.name, err)
		}
		l.orgIDs = append(l.orgIDs, created.ID)
		l.res.Organizations = append(l.res.Organizations, Organization{ID: created.ID, Name: created.Name, Alias: o.alias, PartOf: parent})
	}
	return nil
}

func (l *loader) staff(ctx context.Context) error {
	l.staffIDs = map[string]int64{}
	for i, s := range staff {
		var orgIDs []int64
		if s.org >= 0 {
			orgIDs = []int64{l.orgIDs[s.org]}
		}
		// Every demo account also holds the test role ("Designates a
		// testing user"), so the data stays recognizable wherever it goes.
		roles := append(append([]string{}, s.roles...), directory.RoleTest)
		u, err := l.d.Directory.CreateUser(ctx, directory.NewUser{
			User: directory.User{
				Email: s.local + "@" + Domain, GivenName: s.given, FamilyName: s.family, Gender: s.gender,
				Phone: fmt.Sprintf("+1-202-555-01%02d", 20+i), Locale: "en-US", Timezone: "UTC",
			},
			Password: l.password,
			Roles:    roles,
			OrgIDs:   orgIDs,
		})
		if err != nil {
			return fmt.Errorf("staff %s: %w", s.local, err)
		}
		l.staffIDs[s.key] = u.ID
		a := Account{ID: u.ID, Email: u.Email, Name: s.given + " " + s.family, Roles: roles}
		if len(orgIDs) > 0 {
			a.OrganizationID = orgIDs[0]
		}
		switch s.key {
		case KeyAdmin:
			l.res.Admin = a
		case KeyStaffAdmin:
			l.res.StaffAdmin = a
		}
		l.res.Staff = append(l.res.Staff, a)
	}
	return nil
}

// asUser is ctx acting as the demo user id.
func asUser(ctx context.Context, id int64) context.Context {
	return actor.With(ctx, actor.Actor{UserID: id})
}

// day returns the time daysAgo days before now at hh:mm UTC, so that the
// data is always recent whenever the demo runs.
func (l *loader) day(daysAgo, hh, mm int) time.Time {
	d := l.now.AddDate(0, 0, -daysAgo)
	return time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, time.UTC)
}

func (l *loader) patient(ctx context.Context, i int) error {
	p := patients[i]
	clinic := l.orgIDs[p.clinic]
	clinician := l.staffIDs[clinicianOf[p.clinic]]
	email := strings.ToLower(p.given+"."+p.family) + "@" + Domain
	u, err := l.d.Directory.CreateUser(ctx, directory.NewUser{
		User: directory.User{
			Email: email, GivenName: p.given, FamilyName: p.family, Gender: p.gender, BirthDate: p.birthDate,
			Phone: fmt.Sprintf("+1-202-555-01%02d", 40+i), Locale: p.locale, Timezone: p.timezone,
			GeneralPractitionerID: clinician,
		},
		Password: l.password,
		Roles:    []string{directory.RolePatient, directory.RoleTest},
		OrgIDs:   []int64{clinic},
	})
	if err != nil {
		return fmt.Errorf("patient %s %s: %w", p.given, p.family, err)
	}
	mrn := fmt.Sprintf("DEMO-%04d", i+1)
	if _, err := l.d.Directory.AddUserIdentifier(ctx, u.ID,
		directory.Identifier{System: IdentifierSystem, Value: mrn, Use: "usual"}); err != nil {
		return fmt.Errorf("patient %s %s: identifier: %w", p.given, p.family, err)
	}
	out := Patient{ID: u.ID, Email: email, Name: p.given + " " + p.family, BirthDate: p.birthDate,
		MRN: mrn, OrganizationID: clinic}

	// The clinic's clinician records the rest: first the consent the
	// patient gave at their first visit, about a year ago (staff-editable,
	// so the clinic may record their measures), then the visits.
	cctx := asUser(ctx, clinician)
	first, second := 330+11*i, 20+5*i
	if _, err := l.d.Directory.AddConsent(cctx, &directory.Consent{
		UserID: u.ID, OrganizationID: clinic, Status: directory.ConsentConsented,
		StaffEditable: true, IncludeInReports: true, SendReminders: true,
		AgreementURL:   "https://" + Domain + "/consent/v1",
		AcceptanceDate: l.day(first, 8, 45),
	}); err != nil {
		return fmt.Errorf("patient %s %s: consent: %w", p.given, p.family, err)
	}
	obs := l.observations(p, u.ID, clinician, l.day(first, 9, 10+i), l.day(second, 14, 5+i))
	for _, o := range obs {
		if _, err := l.d.Clinical.Observations().Create(cctx, o); err != nil {
			return fmt.Errorf("patient %s %s: observation %s: %w", p.given, p.family, o.Code[0].Display, err)
		}
	}
	out.Observations = len(obs)
	for _, ps := range p.procedures {
		start := l.day(ps.daysAgo, 10, 30)
		perf := clinical.Occurrence{DateTime: &start}
		if ps.hours > 0 {
			end := start.Add(time.Duration(ps.hours) * time.Hour)
			perf = clinical.Occurrence{Start: &start, End: &end}
		}
		if _, err := l.d.Clinical.Procedures().Create(cctx, clinical.Procedure{
			PatientID: u.ID, Status: clinical.ProcCompleted, PerformerID: clinician, Performed: perf,
			Code: []clinical.Coding{{System: clinical.SNOMEDSystem, Code: ps.code.code, Display: ps.code.display}},
		}); err != nil {
			return fmt.Errorf("patient %s %s: procedure %s: %w", p.given, p.family, ps.code.display, err)
		}
		out.Procedures++
	}
	l.res.Patients = append(l.res.Patients, out)
	return nil
}

// observations are two visits' vital signs, the smoking status and, for
// some, an HbA1c lab result.
func (l *loader) observations(p patientSpec, patientID, performer int64, first, second time.Time) []clinical.Observation {
	vitals := category("vital-signs", "Vital Signs")
	quantity := func(v vital, value float64, decimals int, at time.Time, cat []clinical.Coding) clinical.Observation {
		return clinical.Observation{
			PatientID: patientID, Status: clinical.ObsFinal, PerformerID: performer,
			Code:     []clinical.Coding{{System: loincSystem, Code: v.code, Display: v.display}},
			Category: cat,
			Value: clinical.Value{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{
				Value: strconv.FormatFloat(value, 'f', decimals, 64), Unit: v.unit, System: ucumSystem, Code: v.ucum}},
			Effective: clinical.Occurrence{DateTime: &at}, // at is this call's own copy
			Issued:    at.Add(15 * time.Minute),
		}
	}
	bmiOf := func(kg float64) float64 { m := p.heightCM / 100; return math.Round(10*kg/(m*m)) / 10 }
	secondWeight := p.weightKG + p.weightDelta
	out := []clinical.Observation{
		quantity(bodyHeight, p.heightCM, 0, first, vitals),
		quantity(bodyWeight, p.weightKG, 1, first, vitals),
		quantity(bmi, bmiOf(p.weightKG), 1, first, vitals),
		quantity(systolic, float64(p.systolic), 0, first, vitals),
		quantity(diastolic, float64(p.diastolic), 0, first, vitals),
		quantity(heartRate, float64(p.heartRate), 0, first, vitals),
		quantity(bodyWeight, secondWeight, 1, second, vitals),
		quantity(bmi, bmiOf(secondWeight), 1, second, vitals),
		quantity(systolic, float64(p.systolic-4), 0, second, vitals),
		quantity(diastolic, float64(p.diastolic-2), 0, second, vitals),
		quantity(heartRate, float64(p.heartRate+3), 0, second, vitals),
	}
	at := first
	out = append(out, clinical.Observation{
		PatientID: patientID, Status: clinical.ObsFinal, PerformerID: performer,
		Code:     []clinical.Coding{{System: loincSystem, Code: smokingStatus.code, Display: smokingStatus.display}},
		Category: category("social-history", "Social History"),
		Value: clinical.Value{Kind: clinical.ValueConcept, Concept: []clinical.Coding{
			{System: clinical.SNOMEDSystem, Code: p.smoking.code, Display: p.smoking.display}}},
		Effective: clinical.Occurrence{DateTime: &at},
		Issued:    first.Add(15 * time.Minute),
	})
	if p.hba1c > 0 {
		// Drawn at the second visit; the laboratory reports the next day.
		o := quantity(hba1c, p.hba1c, 1, second, category("laboratory", "Laboratory"))
		o.Issued = second.Add(26 * time.Hour)
		if o.Issued.After(l.now) {
			o.Issued = l.now
		}
		out = append(out, o)
	}
	return out
}

func (l *loader) clients(ctx context.Context) error {
	app, _, err := l.d.Clients.Create(ctx, client.Settings{
		Name: AppName, Public: true,
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{AppRedirectURI},
		Scope:        AppScope,
	})
	if err != nil {
		return fmt.Errorf("patient app: %w", err)
	}
	l.res.PatientApp = Client{ClientID: app.ID, Name: app.Name, Scope: app.Scope,
		GrantTypes: app.GrantTypes, RedirectURIs: app.RedirectURIs}
	backend, secret, err := l.d.Clients.Create(ctx, client.Settings{
		Name:       BackendName,
		GrantTypes: []string{"client_credentials"},
		Scope:      BackendScope,
	})
	if err != nil {
		return fmt.Errorf("backend client: %w", err)
	}
	if secret == "" {
		return apperr.New(apperr.Internal, "the backend client was given no secret")
	}
	l.res.Backend = Client{ClientID: backend.ID, ClientSecret: secret, Name: backend.Name, Scope: backend.Scope,
		GrantTypes: backend.GrantTypes}
	return nil
}
