package flow

import (
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	signed := Input{SignedIn: true, AuthTime: now.Add(-time.Minute), Now: now}
	with := func(f func(*Input)) Input { in := signed; in.Prompt = map[string]bool{}; f(&in); return in }
	cases := []struct {
		name string
		in   Input
		want Step
	}{
		{"anonymous goes to sign-in", Input{Now: now}, Login},
		{"anonymous with prompt=none is login_required", Input{Now: now, Prompt: map[string]bool{"none": true}}, LoginRequired},
		{"signed in, nothing remembered: consent page", with(func(*Input) {}), Consent},
		{"signed in, remembered: issue", with(func(in *Input) { in.Remembered = true }), Issue},
		{"remembered but prompt=consent: page", with(func(in *Input) { in.Remembered = true; in.Prompt["consent"] = true }), Consent},
		{"prompt=none, remembered: issue", with(func(in *Input) { in.Remembered = true; in.Prompt["none"] = true }), Issue},
		{"prompt=none, not remembered: consent_required", with(func(in *Input) { in.Prompt["none"] = true }), ConsentRequired},
		{"allow: issue", with(func(in *Input) { in.Decision = Grant }), Issue},
		{"deny: deny", with(func(in *Input) { in.Decision = Refuse }), Deny},
		{"deny wins over remembered", with(func(in *Input) { in.Decision = Refuse; in.Remembered = true }), Deny},
		{"allow without a patient picked: page again", with(func(in *Input) { in.Decision = Grant; in.NeedPatient = true }), Consent},
		{"allow with the patient picked: issue", with(func(in *Input) { in.Decision = Grant; in.NeedPatient = true; in.PatientKnown = true }), Issue},
		{"remembered, patient unknown (staff): page", with(func(in *Input) { in.Remembered = true; in.NeedPatient = true }), Consent},
		{"remembered, patient is the person: issue", with(func(in *Input) { in.Remembered = true; in.NeedPatient = true; in.PatientKnown = true }), Issue},
		{"prompt=login, no re-authentication yet: sign-in", with(func(in *Input) { in.Prompt["login"] = true; in.Remembered = true }), Login},
		{"prompt=login, signed in before the marker: sign-in", with(func(in *Input) {
			in.Prompt["login"] = true
			in.LoginAfter = now.Add(-time.Second)
		}), Login},
		{"prompt=login, signed in after the marker: proceeds", with(func(in *Input) {
			in.Prompt["login"] = true
			in.Remembered = true
			in.LoginAfter = now.Add(-2 * time.Minute)
		}), Issue},
		{"prompt=login+none: login_required", with(func(in *Input) { in.Prompt["login"] = true; in.Prompt["none"] = true }), LoginRequired},
		{"max_age exceeded: sign-in", with(func(in *Input) { in.MaxAgeSet = true; in.MaxAge = 30 * time.Second; in.Remembered = true }), Login},
		{"max_age met: proceeds", with(func(in *Input) { in.MaxAgeSet = true; in.MaxAge = time.Hour; in.Remembered = true }), Issue},
		{"max_age exceeded, re-authenticated after the marker: proceeds", with(func(in *Input) {
			in.MaxAgeSet = true
			in.MaxAge = 30 * time.Second
			in.Remembered = true
			in.LoginAfter = now.Add(-2 * time.Minute)
		}), Issue},
		{"max_age exceeded with prompt=none: login_required", with(func(in *Input) {
			in.MaxAgeSet = true
			in.MaxAge = time.Second
			in.Prompt["none"] = true
		}), LoginRequired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Next(c.in); got != c.want {
				t.Fatalf("Next = %v, want %v", got, c.want)
			}
		})
	}
}
