package connector

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestDisconnectedMailBadText: a token endpoint's error code is its own
// text; in the alert body it is one line of valid UTF-8 without a NUL.
func TestDisconnectedMailBadText(t *testing.T) {
	c := &Connector{Name: "campdoc", LastError: "token endpoint refused the grant: 400 bad\x00\r\nFrom: x\xff"}
	subject, body := disconnectedMail(c, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	if subject != "ward: connector campdoc disconnected" {
		t.Fatalf("subject %q", subject)
	}
	if !utf8.ValidString(body) || strings.ContainsAny(body, "\x00\r") || strings.Contains(body, "\nFrom: x") {
		t.Fatalf("body holds the remote's control characters: %q", body)
	}
	for _, want := range []string{"2026-01-05T09:00:00Z", "400 bad", "/admin/connectors/campdoc/connect"} {
		if !strings.Contains(body, want) {
			t.Fatalf("body lacks %q: %q", want, body)
		}
	}
}
