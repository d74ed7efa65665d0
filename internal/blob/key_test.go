package blob

import (
	"path/filepath"
	"strings"
	"testing"

	"ward/internal/apperr"
)

func TestValidateKey(t *testing.T) {
	for _, k := range []string{
		"a", "exports/0b6c9d1e-8c1f-4c57-9d3a-2f0e7d1c5b4a/Patient.ndjson",
		"documents/123/content", "a/b/c.d_e-f", "A.1", strings.Repeat("a", MaxSegmentLen),
	} {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
	long := strings.Repeat(strings.Repeat("a", 100)+"/", 6)
	if err := ValidateKey(long[:len(long)-1]); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("key of %d bytes: %v", len(long)-1, err)
	}
}

func TestHasPrefix(t *testing.T) {
	for _, c := range []struct {
		key, prefix string
		want        bool
	}{
		{"a/b", "", true}, {"a/b", "a", true}, {"a/b", "a/b", true}, {"a", "a", true},
		{"ab/c", "a", false}, {"a-b", "a", false}, {"a", "a/b", false},
	} {
		if got := HasPrefix(c.key, c.prefix); got != c.want {
			t.Errorf("HasPrefix(%q, %q) = %v", c.key, c.prefix, got)
		}
	}
}

func FuzzValidKey(f *testing.F) {
	for _, s := range []string{
		"a", "a/b", "exports/1/Patient.ndjson", "", "/", "..", "../a", "a/../b", "a//b", "a/", "/a",
		"a\\b", ".a", "a/.", "a~m", "a\x00", "é", "a..b", strings.Repeat("a/", 300),
	} {
		f.Add(s)
	}
	root := filepath.FromSlash("/srv/ward/blobs")
	f.Fuzz(func(t *testing.T, key string) {
		err := ValidateKey(key)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("ValidateKey(%q) = %v, want an invalid error", key, err)
			}
		} else {
			if strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || len(key) > MaxKeyLen {
				t.Fatalf("accepted %q", key)
			}
			for _, seg := range strings.Split(key, "/") {
				if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") || strings.Contains(seg, "~") {
					t.Fatalf("accepted %q with segment %q", key, seg)
				}
			}
			for _, name := range []string{metaName(key), filepath.Join(location(key))} {
				if !filepath.IsLocal(name) || !strings.HasPrefix(name, objectsDir+string(filepath.Separator)) {
					t.Fatalf("key %q maps to %q, not under %s", key, name, objectsDir)
				}
				full := filepath.Join(root, name)
				if rel, err := filepath.Rel(root, full); err != nil || !filepath.IsLocal(rel) || rel != name {
					t.Fatalf("key %q resolves to %q, outside %s", key, full, root)
				}
			}
		}
		p, perr := CleanPrefix(key)
		if perr == nil && p != "" && ValidateKey(p) != nil {
			t.Fatalf("CleanPrefix(%q) = %q, not a valid key", key, p)
		}
		if perr != nil && err == nil {
			t.Fatalf("a valid key %q is not a valid prefix: %v", key, perr)
		}
	})
}
