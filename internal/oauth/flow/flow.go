// Package flow decides the next step of an authorization request (sign in,
// consent, issue a code, or refuse), as a pure function of what is known
// about the request and the person, so every path through the authorize
// endpoint is one row of a table test.
package flow

import "time"

// Step is what the authorize endpoint does next.
type Step int

const (
	// Login sends the browser to the sign-in page (again, for a forced
	// re-authentication).
	Login Step = iota
	// Consent shows the consent page (with the patient picker when the app
	// asked for launch/patient and the person is not the patient).
	Consent
	// Issue grants the request and redirects with a code.
	Issue
	// Deny redirects with access_denied: the person said no.
	Deny
	// LoginRequired redirects with login_required (prompt=none, nobody
	// signed in or the sign-in too old).
	LoginRequired
	// ConsentRequired redirects with consent_required (prompt=none and
	// the page would have to be shown).
	ConsentRequired
)

func (s Step) String() string {
	return [...]string{"login", "consent", "issue", "deny", "login_required", "consent_required"}[s]
}

// Decision is what the person chose on the consent page.
type Decision string

// Decisions; "" means the consent page has not been answered.
const (
	Undecided Decision = ""
	Grant     Decision = "allow"
	Refuse    Decision = "deny"
)

// Input is everything the decision depends on.
type Input struct {
	// SignedIn is whether a person has a live browser session.
	SignedIn bool
	// AuthTime is when that person last proved their password.
	AuthTime time.Time
	// Now is the current time.
	Now time.Time
	// Prompt holds the request's prompt values (none, login, consent).
	Prompt map[string]bool
	// MaxAge is the request's max_age; MaxAgeSet whether it had one.
	MaxAge    time.Duration
	MaxAgeSet bool
	// LoginAfter is set once the browser was sent to sign in again for
	// prompt=login or max_age: a sign-in at or after it satisfies them.
	LoginAfter time.Time
	// Remembered is whether a live consent of this person for this client
	// covers every requested scope.
	Remembered bool
	// NeedPatient is whether the request asks for launch/patient.
	NeedPatient bool
	// PatientKnown is whether the patient is settled: the person is the
	// patient, or a patient they may see was picked on the consent page.
	PatientKnown bool
	// Decision is the consent page's answer, if this request carries one.
	Decision Decision
}

// freshEnough reports whether the sign-in satisfies prompt=login and max_age.
func (in Input) freshEnough() bool {
	if in.Prompt["login"] && (in.LoginAfter.IsZero() || in.AuthTime.Before(in.LoginAfter)) {
		return false
	}
	if in.MaxAgeSet && in.Now.Sub(in.AuthTime) > in.MaxAge {
		return !in.LoginAfter.IsZero() && !in.AuthTime.Before(in.LoginAfter)
	}
	return true
}

// Next returns the step for in.
func Next(in Input) Step {
	none := in.Prompt["none"]
	if !in.SignedIn || !in.freshEnough() {
		if none {
			return LoginRequired
		}
		return Login
	}
	switch in.Decision {
	case Refuse:
		return Deny
	case Grant:
		if in.NeedPatient && !in.PatientKnown {
			return Consent
		}
		return Issue
	}
	if in.Remembered && !in.Prompt["consent"] && (!in.NeedPatient || in.PatientKnown) {
		return Issue
	}
	if none {
		return ConsentRequired
	}
	return Consent
}
