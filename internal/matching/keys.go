package matching

import (
	"strings"
	"time"
	"unicode"
)

// Fold is a name as ward compares names: lower-cased and with the Latin
// accents removed ("García" → "garcia"). It is the fold the directory's
// stored name keys (users.given_key, family_key) use, so both dialects
// fold alike; changing it changes what stored keys mean.
func Fold(name string) string {
	lower := strings.ToLower(name)
	var b strings.Builder
	b.Grow(len(lower))
	for _, r := range lower {
		if f, ok := latinFold[r]; ok {
			b.WriteString(f)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// latinFold maps the lower-case letters of Latin-1 Supplement, Latin
// Extended-A and most of Latin Extended-B to their unaccented letters (the
// first letter of their canonical decomposition), plus the letters that do
// not decompose but are written without their mark in ASCII (ß, æ, ø, ł...).
var latinFold = func() map[rune]string {
	groups := map[string]string{
		"a": "àáâãäåāăąǎǟǡǻȁȃȧ", "c": "çćĉċč", "d": "ďđ", "e": "èéêëēĕėęěȅȇȩ",
		"g": "ĝğġģǧǵ", "h": "ĥȟħ", "i": "ìíîïĩīĭįǐȉȋı", "j": "ĵǰ", "k": "ķǩ", "l": "ĺļľŀł",
		"n": "ñńņňǹ", "o": "òóôõöōŏőơǒǫǭȍȏȫȭȯȱø", "r": "ŕŗřȑȓ", "s": "śŝşšș",
		"t": "ţťț", "u": "ùúûüũūŭůűųưǔǖǘǚǜȕȗ", "w": "ŵ", "y": "ýÿŷȳ", "z": "źżž",
		"ss": "ß", "ae": "æ", "oe": "œ", "th": "þ",
	}
	m := map[rune]string{}
	for base, letters := range groups {
		for _, r := range letters {
			m[r] = base
		}
	}
	return m
}()

// compact is a name folded and reduced to its letters and digits, so that
// "García-López", "garcia lopez" and "GARCIALOPEZ" compare equal.
func compact(name string) string {
	var b strings.Builder
	for _, r := range Fold(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Phonetic is the blocking key of a name: American Soundex (a letter and
// three digits) of its folded ASCII letters, "" when it has none. Names
// that sound alike or differ by a common typo share it ("Jonh" and "John"
// are J500, "García" and "Garsia" G620), so a candidate with a misspelt
// name is still found by an index lookup. Names in scripts other than
// Latin have no key; they are found by the other keys.
func Phonetic(name string) string {
	codes := map[byte]byte{
		'b': '1', 'f': '1', 'p': '1', 'v': '1',
		'c': '2', 'g': '2', 'j': '2', 'k': '2', 'q': '2', 's': '2', 'x': '2', 'z': '2',
		'd': '3', 't': '3', 'l': '4', 'm': '5', 'n': '5', 'r': '6',
	}
	var letters []byte
	for _, r := range Fold(name) {
		if r >= 'a' && r <= 'z' {
			letters = append(letters, byte(r))
		}
	}
	if len(letters) == 0 {
		return ""
	}
	out := []byte{letters[0] - 'a' + 'A'}
	last := codes[letters[0]]
	for _, c := range letters[1:] {
		code, ok := codes[c]
		switch {
		case !ok && (c == 'h' || c == 'w'):
			// h and w do not separate two letters of the same code.
			continue
		case !ok:
			last = 0 // a vowel separates them
			continue
		case code == last:
			continue
		}
		out = append(out, code)
		last = code
		if len(out) == 4 {
			break
		}
	}
	for len(out) < 4 {
		out = append(out, '0')
	}
	return string(out)
}

// PhoneKey is a phone number as ward compares it: its last nine digits,
// so that "+1 (555) 012-3456", "555-012-3456" and "0015550123456" agree
// whatever prefix, punctuation or trunk code was written. "" when the
// number has fewer than six digits (too short to tell people apart).
func PhoneKey(phone string) string {
	var digits []byte
	for i := 0; i < len(phone); i++ {
		if c := phone[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) < 6 {
		return ""
	}
	if len(digits) > 9 {
		digits = digits[len(digits)-9:]
	}
	return string(digits)
}

// EmailKey is an email as ward compares it: trimmed and lower-cased (the
// directory's stored email_lower).
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// BirthVariants returns the full dates a mistyped birth date may have been
// entered as: the date itself, day and month transposed (when both could
// be a month), and the same day a year before and after. Only a full,
// valid YYYY-MM-DD date has variants.
func BirthVariants(date string) []string {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return nil
	}
	out := []string{t.Format(time.DateOnly)}
	if d, m := t.Day(), int(t.Month()); d <= 12 && d != m {
		sw := time.Date(t.Year(), time.Month(d), m, 0, 0, 0, 0, time.UTC)
		out = append(out, sw.Format(time.DateOnly))
	}
	for _, dy := range []int{-1, 1} {
		y := time.Date(t.Year()+dy, t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		if y.Day() == t.Day() { // 29 February has no neighbour a year off
			out = append(out, y.Format(time.DateOnly))
		}
	}
	return out
}
