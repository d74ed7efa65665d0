package secrets

import "testing"

func TestCommonPassword(t *testing.T) {
	if n := CommonPasswordCount(); n < 10000 {
		t.Fatalf("the list holds %d passwords, want at least 10,000", n)
	}
	for _, pw := range []string{"password", "PASSWORD", "12345678", "qwertyuiop", "iloveyou", "trustno1", "Sunshine"} {
		if !CommonPassword(pw) {
			t.Errorf("CommonPassword(%q) = false, want true", pw)
		}
	}
	for _, pw := range []string{"", "correct horse battery staple", "vX9#q2!mL0", "password\x00"} {
		if CommonPassword(pw) {
			t.Errorf("CommonPassword(%q) = true, want false", pw)
		}
	}
}
