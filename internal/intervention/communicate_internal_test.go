package intervention

import (
	"strings"
	"testing"

	"ward/internal/apperr"
)

// TestCommunicateRequestValidation: every malformed request is Invalid
// before anything is read or stored.
func TestCommunicateRequestValidation(t *testing.T) {
	good := func() CommunicateRequest {
		return CommunicateRequest{Protocol: ProtocolEmail, Users: []int64{1, 2}, Subject: "Hello", Message: "A message."}
	}
	if err := (&CommunicateRequest{Protocol: ProtocolEmail, Group: "cohort", Subject: strings.Repeat("é", 78), Message: "x"}).validate(); err != nil {
		t.Fatalf("a good request: %v", err)
	}
	for name, edit := range map[string]func(*CommunicateRequest){
		"sms":                   func(r *CommunicateRequest) { r.Protocol = "sms" },
		"subject of 79":         func(r *CommunicateRequest) { r.Subject = strings.Repeat("s", 79) },
		"empty subject":         func(r *CommunicateRequest) { r.Subject = "" },
		"CR in subject":         func(r *CommunicateRequest) { r.Subject = "a\rb" },
		"LF in subject":         func(r *CommunicateRequest) { r.Subject = "a\nb" },
		"NUL in subject":        func(r *CommunicateRequest) { r.Subject = "a\x00b" },
		"invalid UTF-8 subject": func(r *CommunicateRequest) { r.Subject = "a\xffb" },
		"overlong NUL subject":  func(r *CommunicateRequest) { r.Subject = "\xc0\x80" },
		"invalid UTF-8 message": func(r *CommunicateRequest) { r.Message = "a\xc3\x28" },
		"NUL in message":        func(r *CommunicateRequest) { r.Message = "a\x00" },
		"blank message":         func(r *CommunicateRequest) { r.Message = " \n" },
		"huge message":          func(r *CommunicateRequest) { r.Message = strings.Repeat("m", MaxMessageLen+1) },
		"no recipients":         func(r *CommunicateRequest) { r.Users = nil },
		"empty users":           func(r *CommunicateRequest) { r.Users = []int64{} },
		"group and users":       func(r *CommunicateRequest) { r.Group = "cohort" },
		"invalid UTF-8 group":   func(r *CommunicateRequest) { r.Users, r.Group = nil, "\xff" },
		"negative id":           func(r *CommunicateRequest) { r.Users = []int64{-1} },
		"too many users":        func(r *CommunicateRequest) { r.Users = make([]int64, MaxRecipients+1) },
	} {
		r := good()
		edit(&r)
		if err := r.validate(); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
