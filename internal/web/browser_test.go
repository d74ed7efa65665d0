package web_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ward/internal/actor"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/testutil"
)

// EnvBrowserTests turns on the browser tests (.ci/run sets it once Chromium
// is installed); they are slow and need a browser, so they are opt-in.
const EnvBrowserTests = "WARD_BROWSER_TESTS"

// chromium returns the browser's path, skipping the test when there is none
// (failing under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv(EnvBrowserTests) != "1" {
		t.Skipf("%s is not 1; skipping browser tests", EnvBrowserTests)
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

// TestBrowserSignIn drives the real server in headless Chromium: sign in
// through the form, land on the signed-in page, sign out.
func TestBrowserSignIn(t *testing.T) {
	browser := chromium(t)

	base, srv := startServer(t)
	if _, err := srv.Services().Directory.CreateUser(actor.System(context.Background()), directory.NewUser{
		User:     directory.User{Email: adminEmail},
		Password: adminPassword,
		Roles:    []string{directory.RoleAdmin},
	}); err != nil {
		t.Fatalf("create admin: %v", err)
	}

	ctx := browserContext(t, browser)

	type css = chromedp.CSS
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), adminEmail),
		chromedp.SendKeys(css("#password"), adminPassword),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css("#whoami")),
	)
	if err != nil {
		t.Fatalf("sign in through the browser: %v", err)
	}
	who, err := chromedp.Run(ctx, chromedp.Text(css("#whoami")))
	if err != nil {
		t.Fatalf("read the signed-in page: %v", err)
	}
	if who != adminEmail {
		t.Errorf("signed-in page names %q, want %q", who, adminEmail)
	}

	err = chromedp.Do(ctx,
		chromedp.Click(css(`form[action="/logout"] button[type=submit]`)),
		chromedp.WaitVisible(css("#login-heading")),
	)
	if err != nil {
		t.Fatalf("sign out through the browser: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(css("#login-heading")))
	if err != nil {
		t.Fatalf("read the sign-in page: %v", err)
	}
	if heading != "Sign in" {
		t.Errorf("after sign-out the page heading is %q, want the sign-in page", heading)
	}
}

// startServer runs a ward on a loopback port until the test ends.
func startServer(t *testing.T) (string, *server.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	base := "http://" + ln.Addr().String()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Addr = ln.Addr().String()
	cfg.Issuer = base
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return base, srv
}

// browserContext starts headless Chromium for the test, with a deadline.
func browserContext(t *testing.T, browser string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}
