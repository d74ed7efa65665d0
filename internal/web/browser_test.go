package web_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"ward/internal/actor"
	"ward/internal/directory"
	"ward/internal/testutil/browser"
)

// TestBrowserSignIn drives the real server in headless Chromium: sign in
// through the form, land on the signed-in page, sign out.
func TestBrowserSignIn(t *testing.T) {
	chrome := browser.Path(t)

	base, srv := browser.StartServer(t, "")
	if _, err := srv.Services().Directory.CreateUser(actor.System(context.Background()), directory.NewUser{
		User:     directory.User{Email: adminEmail},
		Password: adminPassword,
		Roles:    []string{directory.RoleAdmin},
	}); err != nil {
		t.Fatalf("create admin: %v", err)
	}

	ctx := browser.New(t, chrome)

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
	browser.Accessible(t, ctx)

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
	browser.Accessible(t, ctx)
	if heading != "Sign in" {
		t.Errorf("after sign-out the page heading is %q, want the sign-in page", heading)
	}
}
