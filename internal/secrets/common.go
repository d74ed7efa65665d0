package secrets

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswordList is the 30,000 most common passwords, one a line
// (source and licence in commonpasswords.NOTICE).
//
//go:embed commonpasswords.txt
var commonPasswordList string

var (
	commonOnce sync.Once
	commonSet  map[string]struct{}
)

// CommonPasswordCount is how many passwords CommonPassword knows.
func CommonPasswordCount() int {
	loadCommon()
	return len(commonSet)
}

// CommonPassword reports whether pw, ignoring case, is one of the 30,000
// most common passwords of a published list (NIST SP 800-63B 5.1.1.2 asks
// verifiers to refuse such passwords). The set is built on first use.
func CommonPassword(pw string) bool {
	loadCommon()
	_, ok := commonSet[strings.ToLower(pw)]
	return ok
}

func loadCommon() {
	commonOnce.Do(func() {
		lines := strings.Split(strings.TrimSpace(commonPasswordList), "\n")
		commonSet = make(map[string]struct{}, len(lines))
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				commonSet[l] = struct{}{}
			}
		}
	})
}
