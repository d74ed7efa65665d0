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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/testutil"
)

// fhirConcurrency is how many requests BenchmarkFHIR keeps in flight.
const fhirConcurrency = 8

// fhirFixture is a ward serving on a loopback port, seeded, with a
// client-credentials token of a backend service.
type fhirFixture struct {
	base  string // http://127.0.0.1:port
	token string
	hc    *http.Client
	s     seeded
}

func newFHIRFixture(b *testing.B, backend string, patients int) *fhirFixture {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := newServer(b, backend, func(c *config.Config) { c.Addr, c.Issuer = addr, "http://"+addr })
	svc := srv.Services()
	s := seed(b, svc.DB, patients, obsPerPatient)
	c, secret, err := svc.Clients.Create(actor.System(context.Background()), client.Settings{
		Name: "bench", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.rs"})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	_ = ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	b.Cleanup(ts.Close)
	f := &fhirFixture{base: ts.URL, s: s,
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * fhirConcurrency}}}
	req, _ := http.NewRequest(http.MethodPost, f.base+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ID, secret)
	res, err := f.hc.Do(req)
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
	f.token = tok.AccessToken
	return f
}

// get fetches path with the token and returns the status and body.
func (f *fhirFixture) get(path string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, f.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Accept", "application/fhir+json")
	res, err := f.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, body, err
}

// fhirCase is one request shape: path(i) is the i-th request, and entries
// is what a searchset answer must hold (-1 for a read).
type fhirCase struct {
	name    string
	path    func(i int) string
	entries func(i int) int
}

func fhirCases(f *fhirFixture) []fhirCase {
	ids := f.s.patientIDs
	n := len(ids)
	read := func(int) int { return -1 }
	fifty := func(int) int { return 50 }
	return []fhirCase{
		{"Patient read", func(i int) string { return fmt.Sprintf("/fhir/Patient/%d", ids[i*7919%n]) }, read},
		{"Patient?name=prefix&_count=50", func(i int) string {
			return "/fhir/Patient?_count=50&name=" + strings.ToLower(givenNames[i%len(givenNames)][:3])
		}, fifty},
		{"Patient?identifier=sys|val", func(i int) string {
			return "/fhir/Patient?identifier=" + url.QueryEscape(mrnSystem+"|MRN-"+fmt.Sprint(i*7919%n))
		}, func(int) int { return 1 }},
		{"Patient?birthdate=ge1980&_count=50", func(int) string { return "/fhir/Patient?_count=50&birthdate=ge1980" }, fifty},
		{"Observation?patient=id", func(i int) string { return fmt.Sprintf("/fhir/Observation?patient=%d", ids[i*7919%n]) },
			func(int) int { return obsPerPatient }},
	}
}

// fhirPatients is how many patients BenchmarkFHIR seeds: 10,000, or
// 100,000 under WARD_BENCH_LARGE=1.
func fhirPatients() int {
	if os.Getenv("WARD_BENCH_LARGE") == "1" {
		return 100000
	}
	return 10000
}

// BenchmarkFHIR drives Patient reads and searches and an Observation
// search by patient through HTTP over loopback TCP (server and client in
// one process, keep-alive), fhirConcurrency requests at a time, with a
// backend service's client-credentials token (system/*.rs): the bearer
// check, the policy, the store queries, the audit events of the read
// (one per patient on the page) and the JSON. Before timing, a few answers
// of each case are checked for their status and entry count.
func BenchmarkFHIR(b *testing.B) {
	for _, backend := range testutil.Backends() {
		b.Run(backend, func(b *testing.B) {
			f := newFHIRFixture(b, backend, fhirPatients())
			for _, c := range fhirCases(f) {
				for i := range 3 {
					checkFHIR(b, f, c, i)
				}
				b.Run(c.name, func(b *testing.B) {
					var next atomic.Int64
					lats := make([][]time.Duration, fhirConcurrency)
					var wg sync.WaitGroup
					b.ResetTimer()
					for w := range fhirConcurrency {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for {
								i := int(next.Add(1) - 1)
								if i >= b.N {
									return
								}
								start := time.Now()
								status, body, err := f.get(c.path(i))
								lats[w] = append(lats[w], time.Since(start))
								if err != nil || status != http.StatusOK {
									b.Errorf("GET %s: %d %v %.200s", c.path(i), status, err, body)
									return
								}
							}
						}()
					}
					wg.Wait()
					b.StopTimer()
					all := slices.Concat(lats...)
					b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "req/s")
					reportLatency(b, all)
				})
			}
		})
	}
}

// checkFHIR fetches the i-th request of c and checks its answer.
func checkFHIR(b *testing.B, f *fhirFixture, c fhirCase, i int) {
	b.Helper()
	path := c.path(i)
	status, body, err := f.get(path)
	if err != nil || status != http.StatusOK {
		b.Fatalf("GET %s: %d %v %.300s", path, status, err, body)
	}
	var res struct {
		ResourceType string
		Entry        []json.RawMessage
	}
	if err := json.Unmarshal(body, &res); err != nil {
		b.Fatalf("GET %s: %v", path, err)
	}
	want := c.entries(i)
	switch {
	case want < 0 && res.ResourceType != "Patient":
		b.Fatalf("GET %s: a %s, want a Patient", path, res.ResourceType)
	case want >= 0 && (res.ResourceType != "Bundle" || len(res.Entry) != want):
		b.Fatalf("GET %s: %s with %d entries, want a Bundle with %d", path, res.ResourceType, len(res.Entry), want)
	}
}
