package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"ward/internal/testutil/browser"
)

// TestBrowserOps is the operator's round in Chromium: an administrator
// signs in, the home shows the counts and the disabled-webhook warning,
// Bulk exports lists the export kicked off in setup, its page cancels it
// with a notice, and Connectors offers to connect the unprimed connector.
// Every page visited passes the accessibility check.
func TestBrowserOps(t *testing.T) {
	path := browser.Path(t)
	base, srv := browser.StartServer(t, "")
	e := &env{t: t, srv: srv, h: srv.Handler()}
	o := setupOps(e)
	ctx := browser.New(t, path)
	type css = chromedp.CSS
	if err := browser.SignIn(ctx, base, "admin@example.org", testPassword, "/admin"); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(css("#home-heading")))
	if err != nil || heading != "Admin console" {
		t.Fatalf("after sign-in the heading is %q (%v), want the console home", heading, err)
	}
	exports, err := chromedp.Run(ctx, chromedp.Text(css("#count-exports")))
	if err != nil || !strings.Contains(exports, "1") || !strings.Contains(exports, "Bulk exports") {
		t.Errorf("home export count reads %q (%v), want 1 bulk export", exports, err)
	}
	warnings, err := chromedp.Run(ctx, chromedp.Text(css("#warnings")))
	if err != nil || !strings.Contains(warnings, "webhook subscription(s) are disabled") {
		t.Errorf("home warnings read %q (%v), want the disabled webhook", warnings, err)
	}
	browser.Accessible(t, ctx)

	// Through the navigation to the exports, and into the one there.
	if err := chromedp.Do(ctx,
		chromedp.Click(css(`nav.sections a[href="/admin/exports"]`)),
		chromedp.WaitVisible(css("#exports-heading")),
	); err != nil {
		t.Fatalf("open Bulk exports: %v", err)
	}
	browser.Accessible(t, ctx)
	if err := chromedp.Do(ctx,
		chromedp.Click(css(`#exports a[href="/admin/exports/`+o.exportID+`"]`)),
		chromedp.WaitVisible(css("#cancel-export")),
	); err != nil {
		t.Fatalf("open the export: %v", err)
	}
	browser.Accessible(t, ctx)
	if err := chromedp.Do(ctx,
		chromedp.Click(css("#cancel-export")),
		chromedp.WaitVisible(css("#notice")),
	); err != nil {
		t.Fatalf("cancel the export: %v", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(css("#export-status")))
	if err != nil || !strings.HasPrefix(status, "cancelled") {
		t.Errorf("after cancelling the status reads %q (%v), want cancelled", status, err)
	}
	browser.Accessible(t, ctx)

	if err := chromedp.Do(ctx,
		chromedp.Click(css(`nav.sections a[href="/admin/connectors"]`)),
		chromedp.WaitVisible(css("#connectors-heading")),
	); err != nil {
		t.Fatalf("open Connectors: %v", err)
	}
	link, err := chromedp.Run(ctx, chromedp.Text(css(`#connectors a[href="/admin/connectors/campdoc/connect"]`)))
	if err != nil || link != "Connect campdoc" {
		t.Errorf("connectors page link reads %q (%v), want Connect campdoc", link, err)
	}
	browser.Accessible(t, ctx)
}
