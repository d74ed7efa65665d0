package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/matching"
	"ward/internal/server"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// The $match population: names drawn from 120 given names and ~2,000
// family names built from syllables, birth dates spread over 90 years
// (about three people per day at 100,000), a unique phone and MRN each,
// an email for every other one. Realistic enough for blocking: a phonetic
// (family, given) key or a birth date selects a handful, not thousands.
var (
	matchGiven = strings.Fields(`Aarav Abebe Adriana Ahmed Aiko Alejandro Amara Amina Ana Andrei Anika Antoine
		Aroha Astrid Aylin Bao Beatriz Bilal Camila Carlos Chen Chiara Chloe Daniel Dara Dmitri Elena Elif Emeka
		Emma Esra Fatima Felipe Freya Gabriel Grace Hana Hannah Hassan Hugo Ibrahim Ines Ingrid Isabel Ivan Jamal
		Javier Jia Johan John Jose Juan Julia Kai Kamala Karim Kenji Kofi Lars Layla Leila Liam Lina Lucas Luis
		Maya Marta Mateo Mei Mohammed Nadia Naveen Nia Nikolai Noah Nora Oliver Olga Omar Oscar Paulo Pedro Priya
		Rafael Rania Ravi Rosa Rui Sakura Samir Sara Sebastian Sofia Sun Tariq Tomas Uma Valentina Victor Wei Xin
		Yara Yusuf Zainab Zara Ziggy Ayodele Bongani Chidi Dalia Eitan Farah Goran Halima Ilse Joaquin Keanu Lale`)
	familyHeads = strings.Fields(`Ab Ber Cas Dal Esp Fer Gar Hal Ib Jan Kow Lar Mar Nak Ok Pet Quin Ros Sal Tan Ur Val Wan Xu Yam Zel Ok Bran Chu Dor Eng Fitz Gon Hern Ish Jov Kan Lom Mun Nov`)
	familyTails = strings.Fields(`a ez son sen ski ova ini ard ell ton berg ov ani ura ez-Ruiz man oglu ic ida ez oza ewski ius eau ari ind ott ham ley ez ro`)
)

// matchPatient is the i-th seeded person's demographics.
func matchPatient(i int) (given, family, birth, gender, phone, email string) {
	given = matchGiven[(i*7)%len(matchGiven)]
	h := familyHeads[(i/len(matchGiven))%len(familyHeads)]
	t := familyTails[(i/(len(matchGiven)*len(familyHeads))+i)%len(familyTails)]
	family = h + t
	day := (i * 7919) % (90 * 365)
	birth = time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day).Format(time.DateOnly)
	gender = []string{"female", "male"}[i%2]
	phone = fmt.Sprintf("+1 555 %07d", i)
	if i%2 == 0 {
		email = fmt.Sprintf("person%d@example.org", i)
	}
	return
}

// seedMatch writes n patients with multi-row INSERTs (1,000 users a
// statement, every stored key computed as the store computes it), then
// their role and MRN with one INSERT ... SELECT each. It returns the id of
// the first; the i-th has id first+i.
func seedMatch(b *testing.B, db *sqlstore.DB, n int) int64 {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	var first int64
	if err := db.Writer().QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM users`).Scan(&first); err != nil {
		b.Fatal(err)
	}
	const perStmt = 1000
	const cols = 17
	now := time.Now().UnixMicro()
	for lo := 0; lo < n; lo += perStmt {
		hi := min(lo+perStmt, n)
		var sb strings.Builder
		args := make([]any, 0, (hi-lo)*cols)
		for i := lo; i < hi; i++ {
			given, family, birth, gender, phone, email := matchPatient(i)
			bt, _ := time.Parse(time.DateOnly, birth)
			var emailLower any
			if email != "" {
				emailLower = matching.EmailKey(email)
			}
			if i > lo {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for c := range cols {
				if c > 0 {
					sb.WriteString(", ")
				}
				if db.Dialect() == sqlstore.Postgres {
					sb.WriteString("$" + strconv.Itoa(len(args)+c+1))
				} else {
					sb.WriteByte('?')
				}
			}
			sb.WriteString(", 1)")
			args = append(args, int64(first)+int64(i), email, emailLower, given, family, birth, gender, phone, now, now,
				matching.Fold(given), matching.Fold(family), bt.UnixMicro(),
				matching.Phonetic(family), matching.Phonetic(given), matching.PhoneKey(phone), "")
		}
		if _, err := db.Writer().ExecContext(ctx, `INSERT INTO users (id, email, email_lower, given_name, family_name,
			birth_date, gender, phone, registered, updated_at, given_key, family_key, birth_start,
			family_phon, given_phon, phone_key, alt_phone_key, version) VALUES `+sb.String(), args...); err != nil {
			b.Fatalf("seed users %d-%d: %v", lo, hi, err)
		}
	}
	for _, q := range []string{
		`INSERT INTO user_roles (user_id, role_name) SELECT id, 'patient' FROM users WHERE id >= ` + strconv.FormatInt(first, 10),
		`INSERT INTO user_identifiers (user_id, system, value, use) SELECT id, 'urn:mrn', 'MRN-' || id, 'official' FROM users WHERE id >= ` + strconv.FormatInt(first, 10),
	} {
		if _, err := db.Writer().ExecContext(ctx, q); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	if db.Dialect() == sqlstore.Postgres {
		// Sequences moved past the explicit ids; statistics and the
		// visibility map as autovacuum would leave them.
		for _, q := range []string{`SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))`,
			`VACUUM (ANALYZE) users, user_roles, user_identifiers`} {
			if _, err := db.Writer().ExecContext(ctx, q); err != nil {
				b.Fatalf("seed: %v", err)
			}
		}
	} else if _, err := db.Writer().ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatalf("analyze: %v", err)
	}
	b.Logf("seeded %d patients on %s in %s", n, db.Dialect(), time.Since(start).Round(time.Millisecond))
	return first
}

// matchPatients is how many patients BenchmarkPatientMatch seeds: 100,000
// (the goal), or WARD_BENCH_MATCH_PATIENTS.
func matchPatients() int {
	if n, err := strconv.Atoi(os.Getenv("WARD_BENCH_MATCH_PATIENTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// BenchmarkPatientMatch posts Patient/$match through HTTP over loopback
// TCP, one request at a time, with a backend service's token
// (system/Patient.read), at 100,000 patients: the bearer check, the
// policy, the candidate query, the scoring, the rendering and the audit
// events of the returned patients. Each case's first answers are checked:
// the person sought must come first with the expected grade.
func BenchmarkPatientMatch(b *testing.B) {
	for _, backend := range testutil.Backends() {
		b.Run(backend, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			addr := ln.Addr().String()
			srv := newServer(b, backend, func(c *config.Config) { c.Addr, c.Issuer = addr, "http://"+addr })
			svc := srv.Services()
			n := matchPatients()
			first := seedMatch(b, svc.DB, n)
			c, secret, err := svc.Clients.Create(actor.System(context.Background()), client.Settings{
				Name: "bench", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.read"})
			if err != nil {
				b.Fatal(err)
			}
			ts := httptest.NewUnstartedServer(srv.Handler())
			_ = ts.Listener.Close()
			ts.Listener = ln
			ts.Start()
			b.Cleanup(ts.Close)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			token := clientToken(b, hc, ts.URL, c.ID, secret, "system/Patient.read")
			post := func(body string) (int, []byte) {
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/fhir/Patient/$match", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/fhir+json")
				res, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer res.Body.Close()
				out, _ := io.ReadAll(res.Body)
				return res.StatusCode, out
			}
			for _, mc := range matchCases(first) {
				for k := range 3 {
					i := (k*104729 + 17) % n
					status, body := post(mc.body(i))
					checkMatch(b, mc, status, body, first+int64(i))
				}
				b.Run(mc.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					i := 0
					for b.Loop() {
						i = (i + 7919) % n
						start := time.Now()
						status, body := post(mc.body(i))
						lat = append(lat, time.Since(start))
						if status != http.StatusOK {
							b.Fatalf("$match: %d %.300s", status, body)
						}
					}
					reportLatency(b, lat)
				})
			}
			benchUserMatch(b, srv.Handler(), svc, first, n)
		})
	}
}

// benchUserMatch is $match for a clinician (user/Patient.read) who may see
// half the patients (those consented to the clinician's clinic; the other
// half consented to another), in-process through the whole middleware
// chain with the actor set as the bearer check would set it: every
// candidate graded possible or better then goes through check_role, as a
// Patient read does. Requests alternate between a visible person, who must
// come first, and an invisible one, who must not appear.
func benchUserMatch(b *testing.B, h http.Handler, svc *server.Services, first int64, n int) {
	ctx := actor.System(context.Background())
	orgA, err := svc.Directory.CreateOrganization(ctx, &directory.Organization{Name: "Clinic A"})
	if err != nil {
		b.Fatal(err)
	}
	orgB, err := svc.Directory.CreateOrganization(ctx, &directory.Organization{Name: "Clinic B"})
	if err != nil {
		b.Fatal(err)
	}
	staff, err := svc.Directory.CreateUser(ctx, directory.NewUser{User: directory.User{Email: "clinician@example.org",
		GivenName: "Cleo", FamilyName: "Clinician"}, Roles: []string{directory.RoleClinician}, OrgIDs: []int64{orgA.ID}})
	if err != nil {
		b.Fatal(err)
	}
	far := time.Now().AddDate(10, 0, 0).UnixMicro()
	if _, err := svc.DB.Writer().ExecContext(context.Background(), fmt.Sprintf(`INSERT INTO consents
		(user_id, organization_id, status, acceptance_date, expires_at)
		SELECT id, CASE WHEN (id - %d) %% 2 = 0 THEN %d ELSE %d END, 'consented', 0, %d FROM users WHERE id >= %d AND id < %d`,
		first, orgA.ID, orgB.ID, far, first, first+int64(n))); err != nil {
		b.Fatalf("seed consents: %v", err)
	}
	who := actor.Actor{ClientID: "staff-app", UserID: staff.ID, Scopes: []string{"user/Patient.read"}}
	mc := matchCases(first)[0]
	post := func(i int) (int, []byte) {
		req := httptest.NewRequest(http.MethodPost, "/fhir/Patient/$match", strings.NewReader(mc.body(i)))
		req.Header.Set("Content-Type", "application/fhir+json")
		req = req.WithContext(actor.With(req.Context(), who))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	for _, i := range []int{10, 11} {
		status, body := post(i)
		var res struct {
			Entry []struct{ Resource struct{ ID string } }
		}
		if status != http.StatusOK || json.Unmarshal(body, &res) != nil {
			b.Fatalf("user $match: %d %.300s", status, body)
		}
		want := strconv.FormatInt(first+int64(i), 10)
		found := len(res.Entry) > 0 && res.Entry[0].Resource.ID == want
		if found != (i%2 == 0) {
			b.Fatalf("user $match for person %d (visible %v): entries %+v", i, i%2 == 0, res.Entry)
		}
	}
	b.Run("user scope, half visible", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			i = (i + 7919) % n
			start := time.Now()
			status, body := post(i)
			lat = append(lat, time.Since(start))
			if status != http.StatusOK {
				b.Fatalf("$match: %d %.300s", status, body)
			}
		}
		reportLatency(b, lat)
	})
}

// matchCase is one shape of $match query for the i-th person.
type matchCase struct {
	name  string
	body  func(i int) string
	grade string
}

func matchCases(first int64) []matchCase {
	params := func(patient string) string {
		return `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":` + patient + `}]}`
	}
	return []matchCase{
		{"name typo+birthDate+phone", func(i int) string {
			given, family, birth, _, phone, _ := matchPatient(i)
			typo := given
			if len(given) >= 5 { // second and third letters swapped
				typo = given[:1] + given[2:3] + given[1:2] + given[3:]
			}
			return params(fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":%q,"given":[%q]}],"birthDate":%q,"telecom":[{"system":"phone","value":%q}]}`,
				strings.ToUpper(family), typo, birth, strings.ReplaceAll(phone, " ", "-")))
		}, ""},
		{"identifier", func(i int) string {
			return params(fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"MRN-%d"}]}`, first+int64(i)))
		}, "certain"},
		{"name+transposed birthDate", func(i int) string {
			given, family, birth, gender, _, _ := matchPatient(i)
			t, _ := time.Parse(time.DateOnly, birth)
			if t.Day() <= 12 && t.Day() != int(t.Month()) {
				t = time.Date(t.Year(), time.Month(t.Day()), int(t.Month()), 0, 0, 0, 0, time.UTC)
			}
			return params(fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":%q,"given":[%q]}],"birthDate":%q,"gender":%q}`,
				family, given, t.Format(time.DateOnly), gender))
		}, ""},
	}
}

// checkMatch checks an answer: a searchset whose first entry is want.
func checkMatch(b *testing.B, mc matchCase, status int, body []byte, want int64) {
	b.Helper()
	var res struct {
		Entry []struct {
			Resource struct{ ID string }
			Search   struct {
				Extension []struct{ ValueCode string }
			}
		}
	}
	if status != http.StatusOK || json.Unmarshal(body, &res) != nil || len(res.Entry) == 0 {
		b.Fatalf("%s: %d %.300s", mc.name, status, body)
	}
	e := res.Entry[0]
	if e.Resource.ID != strconv.FormatInt(want, 10) || (mc.grade != "" && e.Search.Extension[0].ValueCode != mc.grade) {
		b.Fatalf("%s: first entry %+v, want Patient/%d graded %q", mc.name, e, want, mc.grade)
	}
}

// clientToken gets a client-credentials access token.
func clientToken(b *testing.B, hc *http.Client, base, id, secret, scope string) string {
	b.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	res, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != http.StatusOK || tok.AccessToken == "" {
		b.Fatalf("token: %d %v", res.StatusCode, err)
	}
	return tok.AccessToken
}
