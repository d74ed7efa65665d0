package webhook_test

import (
	"errors"
	"testing"
	"time"

	"ward/internal/webhook"
)

// The example from the Standard Webhooks specification: a receiver's
// library computes this signature for this message.
func TestSignStandardExample(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	h, err := webhook.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body, secret)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h[webhook.HeaderSignature], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	if h[webhook.HeaderTimestamp] != "1614265330" || h[webhook.HeaderID] != "msg_p5jXN8AQM9LWM0D4loKWxJek" {
		t.Errorf("headers %v", h)
	}
}

func TestSignVerifyRotationAndTampering(t *testing.T) {
	oldS, _ := webhook.NewSecret()
	newS, _ := webhook.NewSecret()
	now := time.Now()
	body := []byte(`{"a":1}`)
	h, err := webhook.Sign("msg_1", now, body, newS, oldS)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{newS, oldS} {
		if err := webhook.Verify(s, h, body, now, 5*time.Minute); err != nil {
			t.Errorf("verify during overlap: %v", err)
		}
	}
	other, _ := webhook.NewSecret()
	if err := webhook.Verify(other, h, body, now, 5*time.Minute); !errors.Is(err, webhook.ErrBadSignature) {
		t.Errorf("another secret verified: %v", err)
	}
	if err := webhook.Verify(newS, h, []byte(`{"a":2}`), now, 5*time.Minute); !errors.Is(err, webhook.ErrBadSignature) {
		t.Errorf("changed body verified: %v", err)
	}
	if err := webhook.Verify(newS, h, body, now.Add(10*time.Minute), 5*time.Minute); !errors.Is(err, webhook.ErrBadSignature) {
		t.Errorf("stale timestamp verified: %v", err)
	}
	if _, err := webhook.Sign("msg_1", now, body); err == nil {
		t.Error("signed without a secret")
	}
	if _, err := webhook.Sign("msg_1", now, body, "plain"); err == nil {
		t.Error("signed with a secret without the whsec_ prefix")
	}
}
