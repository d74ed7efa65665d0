package scope

import (
	"fmt"
	"sort"
	"strings"
)

// Describe says in plain words what a scope lets an app do, for a consent
// screen: "Read and search your Observation records". The text is plain,
// not HTML; templates escape it. Scope text is English for now.
func Describe(s Scope) string {
	switch s.Kind {
	case KindResource:
		return describeResource(s)
	case KindOpenID:
		switch s.Name {
		case OpenID:
			return "Know who you are (OpenID Connect)"
		case FHIRUser:
			return "Know which record in the system is you (fhirUser)"
		case Profile:
			return "See your name and basic profile"
		case Email:
			return "See your email address"
		}
	case KindLaunch:
		switch s.LaunchContext {
		case "":
			return "Use the context it was opened from, such as the current patient"
		default:
			return fmt.Sprintf("Access the %s chosen at launch", s.LaunchContext)
		}
	}
	switch s.Name {
	case OfflineAccess:
		return "Stay signed in when you are away (offline access)"
	case OnlineAccess:
		return "Stay signed in while you are using it (online access)"
	}
	return fmt.Sprintf("Use the %q permission", s.Name)
}

func describeResource(s Scope) string {
	target := targetPhrase(s.Context, s.ResourceType)
	if s.Action != "" {
		return fmt.Sprintf("%s declarations (the %s action on %s)", capitalize(taskActionVerb(s.Action)), s.Action, target)
	}
	switch s.Operation {
	case "":
	case OpExport:
		switch {
		case s.ResourceType == "Patient" && s.Context == ContextSystem:
			return "Export the data of all patients in bulk"
		case s.ResourceType == "Group":
			return "Export the data of patient groups in bulk"
		}
		return "Export " + target + " in bulk"
	case OpBulkDataStatus:
		return "Check on bulk data exports and download their files"
	default:
		return fmt.Sprintf("Run the %s operation on %s", s.Operation, target)
	}
	verbs := make([]string, 0, len(permLetters))
	for i, v := range []string{"create", "read", "update", "delete", "search"} {
		if s.Perms&(1<<i) != 0 {
			verbs = append(verbs, v)
		}
	}
	text := capitalize(andList(verbs)) + " " + target
	if len(s.Query) > 0 {
		text += " (only where " + queryPhrase(s) + ")"
	}
	return text
}

// targetPhrase names the records a resource scope reaches.
func targetPhrase(ctx Context, typ string) string {
	wild := typ == WildcardType
	switch ctx {
	case ContextPatient:
		if wild {
			return "all your records"
		}
		return "your " + typ + " records"
	case ContextUser:
		if wild {
			return "all records you can access"
		}
		return typ + " records you can access"
	default:
		if wild {
			return "all records"
		}
		return "all " + typ + " records"
	}
}

// queryPhrase renders a restriction readably: a token value system|code is
// shown by its code, since the system URL means nothing to most people.
func queryPhrase(s Scope) string {
	keys := make([]string, 0, len(s.Query))
	for k := range s.Query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range s.Query[k] {
			if i := strings.LastIndexByte(v, '|'); i >= 0 && i < len(v)-1 {
				v = v[i+1:]
			}
			parts = append(parts, k+" is "+v)
		}
	}
	return strings.Join(parts, " and ")
}

func andList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// taskActionVerb is the plain verb for a workflow action.
func taskActionVerb(action string) string {
	switch action {
	case "validate":
		return "validate"
	case "register":
		return "register"
	case "certify":
		return "certify"
	case "issue":
		return "issue certificates for"
	case "reject":
		return "reject"
	}
	return action
}
