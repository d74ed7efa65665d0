package fhir

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
)

func TestOutcomeFromError(t *testing.T) {
	tests := []struct {
		err      error
		code     string
		diag     string
		wantExpr []string
	}{
		{apperr.New(apperr.Invalid, "bad"), "invalid", "bad", nil},
		{invalidField("Patient.gender", "gender is wrong"), "invalid", "gender is wrong", []string{"Patient.gender"}},
		{apperr.New(apperr.NotFound, "no such patient"), "not-found", "no such patient", nil},
		{apperr.New(apperr.Forbidden, "not yours"), "forbidden", "not yours", nil},
		{apperr.New(apperr.Conflict, "exists"), "conflict", "exists", nil},
		{apperr.New(apperr.Unauthenticated, "sign in"), "login", "sign in", nil},
		{apperr.New(apperr.TooLarge, "body too large"), "too-costly", "body too large", nil},
		{apperr.New(apperr.RateLimited, "slow down"), "throttled", "slow down", nil},
		// Internal errors never show their cause.
		{apperr.Wrap(apperr.Internal, errors.New("db password is hunter2"), "query failed"), "exception", "internal error", nil},
		{errors.New("disk on fire"), "exception", "internal error", nil},
		{fmtWrap(apperr.New(apperr.NotFound, "gone")), "not-found", "gone", nil},
	}
	for _, tt := range tests {
		oo := OutcomeFromError(tt.err)
		if len(oo.Issue) != 1 {
			t.Fatalf("%v: %d issues", tt.err, len(oo.Issue))
		}
		is := oo.Issue[0]
		if is.Severity != "error" || is.Code != tt.code || is.Diagnostics != tt.diag || !reflect.DeepEqual(is.Expression, tt.wantExpr) {
			t.Errorf("%v: issue = %+v, want code %q diagnostics %q expression %v", tt.err, is, tt.code, tt.diag, tt.wantExpr)
		}
	}
}

func fmtWrap(err error) error { return errors.Join(errors.New("context"), err) }

func TestSearchsetBundle(t *testing.T) {
	total := 3
	p := &Patient{DomainResource: DomainResource{ID: "1"}}
	o := Organization{DomainResource: DomainResource{ID: "2"}}
	raw := json.RawMessage(`{"resourceType":"Patient","id":"3"}`)
	noID := &Patient{}
	oo := NewOperationOutcome("warning", "informational", "partial results")
	b := SearchsetBundle("https://ward.test/fhir/", "https://ward.test/fhir/Patient?name=x", "https://ward.test/fhir/Patient?name=x&_cursor=abc", &total, []any{p, o, raw, noID, oo})

	if b.Type != "searchset" || b.Total == nil || *b.Total != 3 {
		t.Errorf("type %q total %v", b.Type, b.Total)
	}
	wantLinks := []BundleLink{{"self", "https://ward.test/fhir/Patient?name=x"}, {"next", "https://ward.test/fhir/Patient?name=x&_cursor=abc"}}
	if !reflect.DeepEqual(b.Link, wantLinks) {
		t.Errorf("links = %+v", b.Link)
	}
	wantURLs := []string{"https://ward.test/fhir/Patient/1", "https://ward.test/fhir/Organization/2", "https://ward.test/fhir/Patient/3", "", ""}
	wantModes := []string{"match", "match", "match", "match", "outcome"}
	for i, e := range b.Entry {
		if e.FullURL != wantURLs[i] || e.Search.Mode != wantModes[i] {
			t.Errorf("entry %d: fullUrl %q mode %q, want %q %q", i, e.FullURL, e.Search.Mode, wantURLs[i], wantModes[i])
		}
	}

	// Encoded and decoded again, entries come back as raw resources that
	// decode with their own decoders.
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var back Bundle
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("decode bundle %s: %v", data, err)
	}
	rawEntry, ok := back.Entry[0].Resource.(json.RawMessage)
	if !ok {
		t.Fatalf("decoded resource is %T, want json.RawMessage", back.Entry[0].Resource)
	}
	if got, err := DecodePatient(rawEntry); err != nil || got.ID != "1" {
		t.Errorf("entry 0 = %+v, %v", got, err)
	}

	// No base, no links, unknown total, no resources.
	empty := SearchsetBundle("", "", "", nil, nil)
	data, _ = json.Marshal(empty)
	if string(data) != `{"resourceType":"Bundle","type":"searchset"}` {
		t.Errorf("empty bundle = %s", data)
	}
	if e := SearchsetBundle("", "", "", nil, []any{p}).Entry[0]; e.FullURL != "" {
		t.Errorf("fullUrl without base = %q", e.FullURL)
	}
}

func TestBundleDecodeIsStrict(t *testing.T) {
	var b Bundle
	err := json.Unmarshal([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"fullUrl":"x","surprise":1}]}`), &b)
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), "surprise") {
		t.Errorf("unknown entry member: err = %v", err)
	}
	if err := json.Unmarshal([]byte(`{"resourceType":"Patient","type":"searchset"}`), &b); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("wrong resourceType: err = %v", err)
	}
}

func TestFromAuditEvent(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 10000, time.UTC)
	tests := []struct {
		name       string
		ev         audit.Event
		wantType   string
		wantAgents []AuditEventAgent
		wantEntity []AuditEventEntity
	}{
		{
			name:     "user acting on a subject",
			ev:       audit.Event{ID: 5, Timestamp: at, UserID: 2, SubjectID: 9, Context: audit.ConsentCtx, Comment: "consent withdrawn", Hash: "h5", PrevHash: "h4"},
			wantType: "rest",
			wantAgents: []AuditEventAgent{
				{Who: &Reference{Reference: "https://ward.test/fhir/Patient/2"}, Requestor: true},
			},
			wantEntity: []AuditEventEntity{{
				What:        &Reference{Reference: "https://ward.test/fhir/Patient/9"},
				Type:        &Coding{System: SystemAuditEntityType, Code: "1", Display: "Person"},
				Description: "consent withdrawn",
				Detail:      []AuditEventEntityDetail{{Type: "hash", ValueString: "h5"}, {Type: "prevHash", ValueString: "h4"}},
			}},
		},
		{
			name:     "client acting for a user at login",
			ev:       audit.Event{ID: 6, Timestamp: at, UserID: 2, ClientID: "app-1", Context: audit.Login},
			wantType: "110114",
			wantAgents: []AuditEventAgent{
				{Who: &Reference{Reference: "https://ward.test/fhir/Patient/2"}, Requestor: true},
				{Who: &Reference{Type: "Device", Display: "app-1"}, AltID: "app-1", Requestor: false},
			},
		},
		{
			name:     "client alone",
			ev:       audit.Event{ID: 7, Timestamp: at, ClientID: "svc", Context: audit.Other, Hash: "h7"},
			wantType: "rest",
			wantAgents: []AuditEventAgent{
				{Who: &Reference{Type: "Device", Display: "svc"}, AltID: "svc", Requestor: true},
			},
			wantEntity: []AuditEventEntity{{Detail: []AuditEventEntityDetail{{Type: "hash", ValueString: "h7"}}}},
		},
		{
			name:       "the system",
			ev:         audit.Event{ID: 8, Timestamp: at, Context: audit.Other},
			wantType:   "rest",
			wantAgents: []AuditEventAgent{{Who: &Reference{Display: "ward"}, Name: "ward", Requestor: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := FromAuditEvent(tt.ev, "https://ward.test/fhir")
			if a.Type.Code != tt.wantType || a.Recorded != "2024-05-06T07:08:09.00001Z" || a.Outcome != "0" || a.Action != "E" {
				t.Errorf("type %q recorded %q outcome %q action %q", a.Type.Code, a.Recorded, a.Outcome, a.Action)
			}
			if a.ID == "" || len(a.Subtype) != 1 || a.Subtype[0].Code != string(tt.ev.Context) {
				t.Errorf("id %q subtype %+v", a.ID, a.Subtype)
			}
			if !reflect.DeepEqual(a.Agent, tt.wantAgents) {
				t.Errorf("agents = %+v, want %+v", a.Agent, tt.wantAgents)
			}
			if !reflect.DeepEqual(a.Entity, tt.wantEntity) {
				t.Errorf("entity = %+v, want %+v", a.Entity, tt.wantEntity)
			}
			if a.Source.Site != "https://ward.test/fhir" || a.Source.Observer.Display != "ward" {
				t.Errorf("source = %+v", a.Source)
			}
		})
	}
}

// A typed event codes its type as a second subtype and its action, names
// what changed as a second entity, carries its payload as a detail and the
// source address as the requesting agent's network.
func TestFromTypedAuditEvent(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name       string
		ev         audit.Event
		wantType   string
		wantAction string
		wantWhat   *Reference // the second entity's, nil for none
		wantName   string
	}{
		{"observation", audit.Event{ID: 1, Timestamp: at, UserID: 2, ClientID: "app", SubjectID: 3, Context: audit.Observation,
			Type: audit.ObservationDeleted, Subject: "Observation/9", Payload: `{"version":2}`, SourceIP: "192.0.2.1"},
			"rest", "D", &Reference{Reference: "https://ward.test/fhir/Observation/9"}, "Observation/9"},
		{"consent as ward serves it", audit.Event{ID: 2, Timestamp: at, UserID: 3, SubjectID: 3, Context: audit.ConsentCtx,
			Type: audit.ConsentCreated, Subject: "Consent/4", SourceIP: "192.0.2.1"},
			"rest", "C", &Reference{Reference: "https://ward.test/fhir/Consent/3-4"}, "Consent/4"},
		{"client, not a FHIR resource", audit.Event{ID: 3, Timestamp: at, UserID: 2, Context: audit.Intervention,
			Type: audit.ClientUpdated, Subject: "Client/abc", SourceIP: "192.0.2.1"}, "rest", "U", nil, "Client/abc"},
		{"sign-in about the patient already named", audit.Event{ID: 4, Timestamp: at, UserID: 3, SubjectID: 3, Context: audit.Login,
			Type: audit.SigninSucceeded, Subject: "Patient/3", SourceIP: "192.0.2.1"}, "110114", "E", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := FromAuditEvent(tt.ev, "https://ward.test/fhir")
			if a.Type.Code != tt.wantType || a.Action != tt.wantAction {
				t.Errorf("type %q action %q, want %q %q", a.Type.Code, a.Action, tt.wantType, tt.wantAction)
			}
			want := []Coding{{System: SystemAuditContext, Code: string(tt.ev.Context)}, {System: SystemWardEventType, Code: string(tt.ev.Type)}}
			if !reflect.DeepEqual(a.Subtype, want) {
				t.Errorf("subtype %+v, want %+v", a.Subtype, want)
			}
			if n := a.Agent[0].Network; n == nil || n.Address != tt.ev.SourceIP || n.Type != "2" {
				t.Errorf("first agent's network %+v, want %s", n, tt.ev.SourceIP)
			}
			if tt.ev.ClientID != "" && (len(a.Agent) != 2 || a.Agent[1].AltID != tt.ev.ClientID) {
				t.Errorf("agents %+v, want the client second", a.Agent)
			}
			if tt.ev.Payload != "" && !slices.Contains(a.Entity[0].Detail, AuditEventEntityDetail{Type: "payload", ValueString: tt.ev.Payload}) {
				t.Errorf("entity details %+v lack the payload", a.Entity[0].Detail)
			}
			if tt.wantName == "" {
				if len(a.Entity) != 1 {
					t.Errorf("entities %+v, want only the patient", a.Entity)
				}
				return
			}
			// The subject's entity comes last (first when the event has no
			// patient, comment or hash).
			last := a.Entity[len(a.Entity)-1]
			if last.Name != tt.wantName || !reflect.DeepEqual(last.What, tt.wantWhat) {
				t.Errorf("entities %+v, want the last named %s with what %+v", a.Entity, tt.wantName, tt.wantWhat)
			}
		})
	}
}

func TestParseDateTime(t *testing.T) {
	good := map[string]time.Time{
		"2020":                      time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		"2020-02":                   time.Date(2020, 2, 1, 0, 0, 0, 0, time.UTC),
		"2020-02-29":                time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC),
		"2020-02-29T10:11:12+02:00": time.Date(2020, 2, 29, 8, 11, 12, 0, time.UTC),
		"2020-02-29T10:11:12.5Z":    time.Date(2020, 2, 29, 10, 11, 12, 5e8, time.UTC),
	}
	for s, want := range good {
		if got, err := ParseDateTime(s); err != nil || !got.Equal(want) {
			t.Errorf("ParseDateTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0000", "20", "2020-13", "2021-02-29", "2020-02-29T10:11", "2020-02-29T10:11:12", "tomorrow"} {
		if _, err := ParseDateTime(s); err == nil {
			t.Errorf("ParseDateTime(%q) accepted", s)
		}
	}
}
