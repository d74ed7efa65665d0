package archtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
)

// module is the module path; every package of ward starts with it.
const module = "ward"

// The edges: the only packages that may reach net/http, and that no other
// package of ward may import. A new package that speaks or calls HTTP (a
// webhook delivery, a connector) is added here, to the list that says why.
var (
	// inbound are the protocol packages, one per protocol, and the
	// authentication middleware they share.
	inbound = []string{
		"ward/internal/api",       // the management API (huma, problem+json)
		"ward/internal/fhir/rest", // FHIR R4 REST and Bulk Data
		"ward/internal/oauth",     // the authorization server (fosite); its key-set fetcher is outbound
		"ward/internal/web",       // the sign-in and consent pages
		"ward/internal/console",   // the admin console's pages (issue 17)
		"ward/internal/htmlpage",  // how the pages above are written
		"ward/internal/idpcompat", // the legacy IdP API of seed 003 (/api/1.0/sso)
		"ward/internal/httpauth",  // session cookie or bearer token, for the edges above
	}
	// wiring builds everything and mounts the inbound edges.
	wiring = []string{
		"ward/cmd/ward",
		"ward/internal/server",
	}
	// outbound are HTTP clients.
	outbound = []string{
		"ward/internal/outbound",              // the one outbound client policy
		"ward/internal/connector/mis",         // the client of an external medical information system (seed 000)
		"ward/internal/connector/tokenclient", // a connector's token endpoint calls, on outbound's policy
		"ward/bench/loadgen",                  // the load generator, a client of a running ward
	}
	// testHelpers are imported by tests only; they may build servers.
	testHelpers = []string{
		"ward/internal/testutil",
		"ward/internal/testutil/browser",  // headless Chromium against a running ward
		"ward/internal/connector/mistest", // the test MIS (seed 000)
	}
)

// riverImporters may import River directly: the runner (internal/jobs)
// and the features that hold River workers (the design: a feature holds
// its types, Store interface, Service and River workers). Everything else
// reaches River, if at all, through these.
var riverImporters = []string{
	"ward/internal/jobs",
	"ward/internal/bulk",
	"ward/internal/mail",        // the outbox's delivery worker
	"ward/internal/connector",   // the token refresh worker and sweep
	"ward/internal/integration", // the token push worker, sweep and start job
	"ward/internal/webhook",     // the dispatcher and the delivery worker (issue 15)
}

// fositeImporter is the one package that may import fosite (the design:
// "imported only inside internal/oauth").
const fositeImporter = "ward/internal/oauth"

const (
	netHTTP = "net/http"
	fosite  = "github.com/ory/fosite"
	river   = "github.com/riverqueue/river"
)

// graph is the non-test import graph of ward and everything it depends on.
type graph struct {
	imports map[string][]string
	// own lists ward's packages, sorted.
	own []string
}

var (
	loadOnce  sync.Once
	loaded    *graph
	loadError string
)

// loadGraph returns the graph, read once for all the tests.
func loadGraph(t *testing.T) *graph {
	t.Helper()
	loadOnce.Do(func() { loaded, loadError = readGraph() })
	if loadError != "" {
		t.Fatal(loadError)
	}
	return loaded
}

// readGraph asks go list for every package of the module and its
// dependencies, with their non-test imports: a test may import anything.
// It needs nothing but the go command that runs the tests.
func readGraph() (*graph, string) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Sprintf("go list: %v\n%s", err, stderr.String())
	}
	g := &graph{imports: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		g.imports[f[0]] = f[1:]
		if inModule(f[0]) {
			g.own = append(g.own, f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Sprintf("read go list output: %v", err)
	}
	slices.Sort(g.own)
	if len(g.own) == 0 {
		return nil, "go list found no package of the module"
	}
	return g, ""
}

func inModule(p string) bool { return p == module || strings.HasPrefix(p, module+"/") }

// under reports whether p is root or a package below it.
func under(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

// chain returns the shortest import path from "from" to a package that
// bad accepts ("from -> a -> b"), or nil when there is none.
func (g *graph) chain(from string, bad func(string) bool) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != from && bad(p) {
			var path []string
			for q := p; q != ""; q = prev[q] {
				path = append(path, q)
			}
			slices.Reverse(path)
			return path
		}
		for _, q := range g.imports[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}

func edges() []string { return slices.Concat(inbound, wiring, outbound, testHelpers) }

// TestAllowListsNameRealPackages keeps the lists above honest: a package
// renamed or removed must leave them too.
func TestAllowListsNameRealPackages(t *testing.T) {
	g := loadGraph(t)
	for _, p := range slices.Concat(edges(), riverImporters, []string{fositeImporter}) {
		if !slices.Contains(g.own, p) {
			t.Errorf("%s is in an allow list of this test but is not a package of the module", p)
		}
	}
}

// TestOnlyEdgesReachHTTP: features and the ground (domain packages,
// internal/store, internal/sqlstore, jobs, blob, ...) neither import
// net/http nor import anything that does, and never import an edge.
func TestOnlyEdgesReachHTTP(t *testing.T) {
	g := loadGraph(t)
	isEdge := func(p string) bool { return slices.Contains(edges(), p) }
	for _, p := range g.own {
		if isEdge(p) {
			continue
		}
		if c := g.chain(p, isEdge); c != nil {
			t.Errorf("%s imports the edge package %s: %s", p, c[len(c)-1], strings.Join(c, " -> "))
			continue
		}
		if c := g.chain(p, func(q string) bool { return under(q, netHTTP) }); c != nil {
			t.Errorf("%s reaches %s, which only the edges listed in this test may: %s", p, c[len(c)-1], strings.Join(c, " -> "))
		}
	}
}

// TestFositeOnlyInOAuth: fosite is imported by internal/oauth alone, and
// no feature or ground package reaches it.
func TestFositeOnlyInOAuth(t *testing.T) {
	g := loadGraph(t)
	isFosite := func(q string) bool { return under(q, fosite) }
	for _, p := range g.own {
		if p == fositeImporter {
			continue
		}
		for _, q := range g.imports[p] {
			if isFosite(q) {
				t.Errorf("%s imports %s; only %s may import fosite", p, q, fositeImporter)
			}
		}
		if slices.Contains(edges(), p) {
			continue // an edge may reach fosite through internal/oauth
		}
		if c := g.chain(p, isFosite); c != nil {
			t.Errorf("%s reaches fosite: %s", p, strings.Join(c, " -> "))
		}
	}
}

// TestRiverOnlyInJobsAndWorkers: River is imported by the runner and by
// the features holding River workers only; the ground, the adapter and
// the edges go through them.
func TestRiverOnlyInJobsAndWorkers(t *testing.T) {
	g := loadGraph(t)
	for _, p := range g.own {
		if slices.Contains(riverImporters, p) {
			continue
		}
		for _, q := range g.imports[p] {
			if under(q, river) {
				t.Errorf("%s imports %s; only %s may import River (add a feature holding River workers to riverImporters)",
					p, q, strings.Join(riverImporters, ", "))
			}
		}
	}
}
