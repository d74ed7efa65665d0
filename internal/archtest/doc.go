// Package archtest holds no code: its test checks the import graph, so
// that the rule of docs/architecture.md (features and the ground free of
// HTTP, fosite and River but where the design puts them; HTTP only at the
// edges) is kept by the build, not by review.
package archtest
