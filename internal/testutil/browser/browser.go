// Package browser drives ward's pages in headless Chromium for tests
// (chromedp): a server on a loopback port, a browser per test, signing in,
// an accessibility check with axe-core run in the page, and a screenshot
// kept as a test artifact when a test fails.
//
// The tests are opt-in (WARD_BROWSER_TESTS=1, which .ci/run sets once
// Chromium is installed); under CI=true a missing browser fails them.
package browser

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ward/internal/config"
	"ward/internal/server"
	"ward/internal/testutil"
)

// EnvTests turns the browser tests on.
const EnvTests = "WARD_BROWSER_TESTS"

// Path returns Chromium's path, skipping t when browser tests are off or
// there is no browser (failing under CI=true).
func Path(t testing.TB) string {
	t.Helper()
	if os.Getenv(EnvTests) != "1" {
		t.Skipf("%s is not 1; skipping browser tests", EnvTests)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testutil.InCI() {
		t.Fatal("no chromium on PATH; browser tests must run in CI (apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH")
	return ""
}

// StartServer runs a ward on a loopback port until t ends, on dbURL (""
// for a fresh SQLite database in a temporary folder); each adjust changes
// the configuration first.
func StartServer(t testing.TB, dbURL string, adjust ...func(*config.Config)) (string, *server.Server) {
	t.Helper()
	ln := testutil.Listen(t)
	base := "http://" + ln.Addr().String()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	if dbURL != "" {
		cfg.DatabaseURL = dbURL
	}
	cfg.Addr = ln.Addr().String()
	cfg.Issuer = base
	for _, f := range adjust {
		f(&cfg)
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	testutil.Serve(t, srv, ln)
	return base, srv
}

// New starts headless Chromium for t (after Path) with a deadline; when t
// has failed by its end, a screenshot of the page is kept in the test's
// artifact folder (go test -artifacts keeps it; the path is logged).
func New(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancel := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(tab, 3*time.Minute)
	t.Cleanup(func() {
		if t.Failed() {
			// From the tab, not ctx: a test that failed by running out
			// of time still gets its picture.
			screenshot(t, tab)
		}
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	return ctx
}

var shots atomic.Int64

// screenshot saves the current page as a PNG artifact of t.
func screenshot(t *testing.T, ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(sctx, chromedp.Location())
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no screenshot of the failed page: %v", err)
		return
	}
	name := filepath.Join(t.ArtifactDir(), fmt.Sprintf("failure-%d.png", shots.Add(1)))
	if err := os.WriteFile(name, png, 0o644); err != nil {
		t.Logf("save screenshot: %v", err)
		return
	}
	t.Logf("screenshot of %s at the failure: %s", loc, name)
}

// SignIn signs email in through the sign-in form and waits for the page
// that follows (next, a path).
func SignIn(ctx context.Context, base, email, password, next string) error {
	type css = chromedp.CSS
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login?next="+url.QueryEscape(next)),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), email),
		chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
	); err != nil {
		return err
	}
	// Signed in once the browser has left the sign-in page (a refused
	// sign-in stays there, and so times out here).
	// An evaluation cut short by the navigation is asked again.
	for {
		left, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("location.pathname !== '/login' && document.readyState === 'complete'"))
		if err == nil && left {
			return chromedp.Do(ctx, chromedp.WaitVisible(css("#main")))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait to leave the sign-in page: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

//go:embed axe/axe.min.js
var axeSource string

// Violation is one accessibility rule a page breaks, as axe-core reports it.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// Accessible runs axe-core (WCAG 2.x A and AA rules) in the page ctx shows
// and fails t for every serious or critical violation. The script is
// evaluated through the DevTools protocol, which the page's
// Content-Security-Policy does not govern, so the page keeps its strict
// policy while it is checked.
func Accessible(t *testing.T, ctx context.Context) {
	t.Helper()
	var found []Violation
	run := `(async () => {
		const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}, resultTypes: ['violations']});
		return JSON.stringify(r.violations);
	})()`
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("read the page's address: %v", err)
	}
	// axe defines itself on window; a page it already ran in keeps it.
	// The source goes in as a JSON string (a valid JavaScript literal).
	src, err := json.Marshal(axeSource)
	if err != nil {
		t.Fatalf("quote axe-core: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.axe ? 0 : ((0, eval)("+string(src)+"), 0)")); err != nil {
		t.Fatalf("load axe-core into %s: %v", loc, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe-core in %s: %v", loc, err)
	}
	if err := json.Unmarshal([]byte(raw), &found); err != nil {
		t.Fatalf("read axe-core's answer for %s: %v", loc, err)
	}
	for _, v := range found {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		var where []string
		for _, n := range v.Nodes {
			where = append(where, n.HTML)
		}
		t.Errorf("%s: accessibility %s (%s): %s — %s", loc, v.ID, v.Impact, v.Help, strings.Join(where, " | "))
	}
}
