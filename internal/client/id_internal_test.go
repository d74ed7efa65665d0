package client

import "testing"

// A client id never opens with '-' or '_': one with '-' reads as a flag on
// a command line (it made `ward client disable ID` fail one run in 32).
func TestClientIDStartsWithAlphanumeric(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		id, err := newClientID()
		if err != nil {
			t.Fatal(err)
		}
		if c := id[0]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			t.Fatalf("client id %q opens with %q", id, c)
		}
		if seen[id] {
			t.Fatalf("client id %q drawn twice", id)
		}
		seen[id] = true
	}
}
