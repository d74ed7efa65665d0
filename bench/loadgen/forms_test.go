package main

import (
	"net/url"
	"strings"
	"testing"
)

// loginPage is ward's sign-in page (internal/web/templates/login.html), as
// rendered for an authorize request.
const loginPage = `<!doctype html><html><head><title>Sign in</title></head><body>
<section class="card" aria-labelledby="login-heading">
  <h1 id="login-heading">Sign in</h1>
  <form method="post" action="/login" novalidate>
    <input type="hidden" name="next" value="/oauth2/authorize?client_id=abc&amp;state=xyz">
    <label for="email">Email address</label>
    <input id="email" name="email" type="email" autocomplete="username" required autofocus value="">
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit">Sign in</button>
  </form>
  <form method="post" action="/logout"><button>Sign out</button></form>
</section></body></html>`

// consentPage is a consent page with more than a browser's minimum: a
// relative action, hidden fields, checkboxes, radios, a select, a
// textarea, disabled and unnamed controls, and two decisions.
const consentPage = `<html><body>
<form method="POST" action="consent?x=1" id="c">
  <input type="hidden" name="challenge" value="ch-123">
  <input type="hidden" name="csrf" value="tok&quot;en">
  <input type=checkbox name=scope value="openid" checked>
  <input type=checkbox name=scope value="patient/*.rs" CHECKED>
  <input type=checkbox name=scope value="offline_access">
  <input type=checkbox name=remember>
  <input type=radio name=patient value=p1>
  <input type=radio name=patient value=p2>
  <input type=radio name=picked value=a>
  <input type=radio name=picked value=b checked>
  <select name=lang><option value=en>English<option value=fr selected>French</select>
  <select name=first><option disabled value=x>X<optgroup label=g><option>  Plain  </option></optgroup></select>
  <textarea name=note>hello</textarea>
  <input name="off" value="no" disabled>
  <input value="unnamed">
  <input type="text" name="plain" value="v">
  <button type="submit" name="decision" value="deny">Deny</button>
  <button type="submit" name="decision" value="allow">Allow</button>
  <button type="button" name="noise" value="1">Not a submit</button>
</form>
<input type=hidden name=outside form=c value=o>
</body></html>`

func TestParseFormsLogin(t *testing.T) {
	page, _ := url.Parse("http://127.0.0.1:8080/login?next=%2Foauth2%2Fauthorize")
	forms, err := parseForms(strings.NewReader(loginPage), page)
	if err != nil {
		t.Fatal(err)
	}
	if len(forms) != 2 {
		t.Fatalf("got %d forms, want 2", len(forms))
	}
	f, submit, kind := pickForm(forms)
	if kind != "login" || f != forms[0] {
		t.Fatalf("pickForm = %q, form %p; want login, the first form", kind, f)
	}
	if f.Method != "POST" || f.Action.String() != "http://127.0.0.1:8080/login" {
		t.Fatalf("form %s %s, want POST http://127.0.0.1:8080/login", f.Method, f.Action)
	}
	v := f.values(submit)
	fillLogin(f, v, "pat@example.org", "s3cret pass")
	want := url.Values{
		"next":     {"/oauth2/authorize?client_id=abc&state=xyz"},
		"email":    {"pat@example.org"},
		"password": {"s3cret pass"},
	}
	if v.Encode() != want.Encode() {
		t.Fatalf("login values %v, want %v", v, want)
	}
}

func TestParseFormsConsent(t *testing.T) {
	page, _ := url.Parse("http://127.0.0.1:8080/oauth2/authorize?client_id=abc")
	forms, err := parseForms(strings.NewReader(consentPage), page)
	if err != nil {
		t.Fatal(err)
	}
	f, submit, kind := pickForm(forms)
	if kind != "consent" {
		t.Fatalf("pickForm kind %q, want consent", kind)
	}
	if got := f.Action.String(); got != "http://127.0.0.1:8080/oauth2/consent?x=1" || f.Method != "POST" {
		t.Fatalf("form %s %s, want POST http://127.0.0.1:8080/oauth2/consent?x=1", f.Method, got)
	}
	v := f.values(submit)
	want := url.Values{
		"challenge": {"ch-123"},
		"csrf":      {`tok"en`},
		"scope":     {"openid", "patient/*.rs"},
		"patient":   {"p1"}, // none checked: the first
		"picked":    {"b"},
		"lang":      {"fr"},
		"first":     {"Plain"},
		"note":      {"hello"},
		"plain":     {"v"},
		"outside":   {"o"},
		"decision":  {"allow"},
	}
	if v.Encode() != want.Encode() {
		t.Fatalf("consent values\n got %s\nwant %s", v.Encode(), want.Encode())
	}
	if _, ok := f.button("noise", "1"); ok {
		t.Fatal("a type=button button counted as a submit button")
	}
}

func TestParseFormsTolerant(t *testing.T) {
	page, _ := url.Parse("http://localhost/a/b")
	// Unclosed tags, upper case, no action (the page itself), GET.
	forms, err := parseForms(strings.NewReader(`<FORM><INPUT NAME=q VALUE=1><input type=submit name=decision value=allow>`), page)
	if err != nil {
		t.Fatal(err)
	}
	if len(forms) != 1 {
		t.Fatalf("got %d forms, want 1", len(forms))
	}
	f := forms[0]
	if f.Method != "GET" || f.Action.String() != page.String() {
		t.Fatalf("form %s %s, want GET %s", f.Method, f.Action, page)
	}
	if _, _, kind := pickForm(forms); kind != "consent" {
		t.Fatalf("pickForm kind %q, want consent (input type=submit)", kind)
	}
	if _, _, kind := pickForm(nil); kind != "" {
		t.Fatalf("pickForm(nil) kind %q, want none", kind)
	}
	forms, err = parseForms(strings.NewReader(`<p>Something went wrong</p>`), page)
	if err != nil || len(forms) != 0 {
		t.Fatalf("page without forms: %d forms, %v", len(forms), err)
	}
}
