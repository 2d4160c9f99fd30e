package processors

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
)

// redactTokens build texts for the comparison tests: pieces of every kind
// of personal data, their labels, separators, line breaks and runes with
// unusual case folding.
var redactTokens = []string{
	"+", "00", "0", "1", "(", ")", " ", " ", " ", "-", ".", "/", ":", "::", "\n", "\t", "  ", "#", "@", "_", "'", "\"", "=", "<b>", "&nbsp;",
	"12", "123", "1234", "5678", "555", "234", "020", "7946", "0018", "2024-05-12", "12.05.2024", "05/12/24", "10:30:45", "T",
	"phone:", "tel", "Mobile", "call me at", "order", "Invoice", "ticket", "tic\u212aet", "\u017fku", "no.", "ref",
	"SSN", "\u017f\u017fn", "social security number:", "123-45-6789", "123 45 6789", "666-12-3456",
	"password", "Pa\u017f\u017fword:", "pwd=", "PIN", "passcode", "is", "was", "now", "hunter2", "Sup3r!", "'x1'", "shipping",
	"Bearer ", "authorization: ", "api_key=", "token: ", "secret=", "\u212aey:", "Zx81Kq02LmP7vT4wRb9n", "abcdEFGH12345678XYZ",
	"sk_live_4eC39HqLyjWDarjtT1zdp7dc", "AKIAIOSFODNN7EXAMPLE", "ghp_0123456789abcdefghijABCDEFGHIJ012345", "eyJhbGciOi", "eyJ0eXAiOiJKV1Q",
	"jane@example.com", "müller@bücher.de", "x@y", ".co.uk", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "GB82", "WEST",
	"4111 1111 1111 1111", "4242-4242-4242-4242", "378282246310005", "203.0.113.42", "2001:db8::8a2e:370:7334", "::1", "::ffff:192.0.2.1",
	"1.2.3.4.5", "dead::beef", "std::io", "é", "ß", "\u00a0", "\v", "\r", "\xff", "\xc3", "—",
	"AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890abcdefghijklmnopqrstu-", "ASIAIOSFODNN7EXAMPLE",
	"xoxb-1234567890-abcdefghij", "glpat-abcdefghij0123456789", "github_pat_", "rk_test_", "sk-proj-",
	"pass code", "would be", "Authorization:", "api-key", "\u212aey", "bearer", "<i class=x>", "&NBSP;", "&nb\u017fp;",
}

func randomRedactText(rng *rand.Rand) string {
	var b strings.Builder
	for range 1 + rng.IntN(24) {
		b.WriteString(redactTokens[rng.IntN(len(redactTokens))])
	}
	return b.String()
}

// scopedPatterns lists every scoped pattern of the detectors, except the
// phone candidates, whose prefilter is the detector's and not the
// pattern's; TestPhoneCandidatesKeepEveryPhone covers those.
var scopedPatterns = map[string]*scopedRegexp{
	"authorization":  authorizationScoped,
	"secret prefix":  secretPrefixScoped,
	"secret assign":  secretAssignScoped,
	"password":       passwordScoped,
	"passcode":       passcodeScoped,
	"password prose": passwordProseScoped,
	"email":          emailScoped,
	"iban":           ibanScoped,
	"card":           cardScoped,
	"ssn dashed":     ssnDashedScoped,
	"ssn labeled":    ssnLabeledScoped,
	"ipv6":           ipv6Scoped,
	"ipv4":           ipv4Scoped,
}

func TestScopedRegexpFindsWhatRegexpFinds(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	texts := []string{"", "x", benchProse(rng, 4<<10), benchLogLines(rng, 4<<10)}
	for range 4000 {
		texts = append(texts, randomRedactText(rng))
	}
	for name, sr := range scopedPatterns {
		for _, text := range texts {
			got, want := sr.findAll(text), sr.re.FindAllStringSubmatchIndex(text, -1)
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("%s in %q: scoped matches %v, regexp matches %v", name, text, got, want)
			}
		}
	}
}

// TestFindAroundFindsWhatFindAllFinds checks that visiting only the
// segments around the index's triggers that startOK accepts finds every
// match, for each pattern and the trigger list its detector passes.
func TestFindAroundFindsWhatFindAllFinds(t *testing.T) {
	triggers := map[string]func(ix *redactIndex) []int{
		"email":       func(ix *redactIndex) []int { return ix.ats },
		"iban":        func(ix *redactIndex) []int { return ix.digitRuns },
		"card":        func(ix *redactIndex) []int { return ix.digitRuns },
		"ssn dashed":  func(ix *redactIndex) []int { return ix.digitRuns },
		"ssn labeled": func(ix *redactIndex) []int { return ix.digitRuns },
		"ipv6":        func(ix *redactIndex) []int { return ix.colons },
		"ipv4":        func(ix *redactIndex) []int { return ix.digitRuns },
	}
	rng := rand.New(rand.NewPCG(13, 14))
	texts := []string{"", "x", benchProse(rng, 4<<10), benchLogLines(rng, 4<<10)}
	for range 20000 {
		texts = append(texts, randomRedactText(rng))
	}
	for name, list := range triggers {
		sr := scopedPatterns[name]
		for _, text := range texts {
			got, want := sr.findAround(text, list(newRedactIndex(text)), nil), sr.findAll(text)
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("%s in %q: matches around triggers %v, matches in every segment %v", name, text, got, want)
			}
		}
	}
	for _, text := range texts {
		got := phoneCandidateScoped.findAround(text, newRedactIndex(text).digitRuns, nil)
		for _, loc := range phoneCandidateScoped.findAll(text) {
			if countDigits(text[loc[0]:loc[1]]) >= 8 && !slices.ContainsFunc(got, func(g []int) bool { return slices.Equal(g, loc) }) {
				t.Errorf("phone candidate %q of %q with 8 or more digits was skipped", text[loc[0]:loc[1]], text)
			}
		}
	}
}

// TestScopedPatternsAreSafeToSplit checks the two rules that make matching
// segments equal to matching the whole text: no pattern anchors at the
// start or end of the text, and every byte of a match is inside.
func TestScopedPatternsAreSafeToSplit(t *testing.T) {
	all := map[string]*scopedRegexp{"phone candidate": phoneCandidateScoped}
	for name, sr := range scopedPatterns {
		all[name] = sr
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for name, sr := range all {
		if hasAnchor(t, sr.re) {
			t.Errorf("%s: pattern %s anchors at the start or end of the text", name, sr.re)
		}
		for range 3000 {
			text := randomRedactText(rng)
			for _, loc := range sr.re.FindAllStringIndex(text, -1) {
				for i := loc[0]; i < loc[1]; i++ {
					if !sr.inside[text[i]] {
						t.Errorf("%s: match %q of %q contains byte %q, which splits segments", name, text[loc[0]:loc[1]], text, text[i])
					}
				}
			}
		}
	}
}

func TestPhoneCandidatesKeepEveryPhone(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 4000 {
		text := randomRedactText(rng)
		got := phoneCandidateScoped.findAll(text)
		for _, loc := range phoneCandidateRe.FindAllStringSubmatchIndex(text, -1) {
			kept := slices.ContainsFunc(got, func(g []int) bool { return slices.Equal(g, loc) })
			if !kept && countDigits(text[loc[0]:loc[1]]) >= 8 {
				t.Errorf("candidate %q of %q with 8 or more digits was dropped", text[loc[0]:loc[1]], text)
			}
		}
		for _, loc := range got {
			if !slices.ContainsFunc(phoneCandidateRe.FindAllStringSubmatchIndex(text, -1), func(w []int) bool { return slices.Equal(w, loc) }) {
				t.Errorf("candidate %v of %q is not a match of the pattern", loc, text)
			}
		}
	}
}

// phoneDatePattern and nanpPattern are the patterns that startsWithDate
// and isNANP implement by hand.
var (
	phoneDatePattern = regexp.MustCompile(`^(?:[0-9]{1,4}\.[0-9]{1,2}\.[0-9]{1,4}|[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,4}|[0-9]{1,4}/[0-9]{1,2}/[0-9]{1,4})(?:$|[ T])`)
	nanpPattern      = regexp.MustCompile(`^(?:1[ .\-])?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}$`)
)

func TestPhoneShapesAgreeWithPatterns(t *testing.T) {
	pieces := []string{"0", "1", "2", "5", "9", "12", "123", "555", "1234", "12345", "(", ")", " ", "-", ".", "/", "T", "x", "+"}
	fixed := []string{"2024-05-12", "12.05.2024", "05/12/24", "2024-05-12T10", "2024-05-12 x", "2024-05-12x", "12345-1-1",
		"1-1-12345", "1.1-1", "555-234-5678", "(555) 234-5678", "(555)234-5678", "1-800-555-0199", "1 (800) 555-0199",
		"555 234.5678", "155-234-5678", "555-134-5678", "1555-234-5678", "(555)  234-5678", "555-234-56789"}
	rng := rand.New(rand.NewPCG(11, 12))
	texts := fixed
	for range 50000 {
		var b strings.Builder
		for range 1 + rng.IntN(9) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		if got, want := startsWithDate(s), phoneDatePattern.MatchString(s); got != want {
			t.Errorf("startsWithDate(%q) = %v, want %v", s, got, want)
		}
		if got, want := isNANP(s), nanpPattern.MatchString(s); got != want {
			t.Errorf("isNANP(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestFoldPrefilters(t *testing.T) {
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"upper case", containsAnyFold("AUTHORIZATION:", "authorization"), true},
		{"kelvin sign", containsAnyFold("api_\u212aey=", "key"), true},
		{"long s", containsAnyFold("\u017fecret", "secret"), true},
		{"absent", containsAnyFold("no such word", "secret"), false},
		{"word start", containsAnyWordFold("my Password:", "pass"), true},
		{"inside a word", containsAnyWordFold("shipping", "pin"), false},
		{"after underscore", containsAnyWordFold("x_pin", "pin"), false},
		{"key assigned", hasAssignedKey(`API_KEY" = x`), true},
		{"key with newline", hasAssignedKey("token\n\t:x"), true},
		{"key not assigned", hasAssignedKey("the key to success"), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// hasAnchor reports whether re uses ^, $, \A or \z.
func hasAnchor(t *testing.T, re *regexp.Regexp) bool {
	t.Helper()
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(*syntax.Regexp) bool
	walk = func(n *syntax.Regexp) bool {
		switch n.Op {
		case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
			return true
		}
		return slices.ContainsFunc(n.Sub, walk)
	}
	return walk(tree)
}

func TestLastNewline(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for range 20000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = []byte{'a', '\n', 0x8a, 0x0a ^ 0x80, 0}[rng.IntN(5)]
		}
		if got, want := lastNewline(string(b)), strings.LastIndexByte(string(b), '\n'); got != want {
			t.Errorf("lastNewline(%q) = %d, want %d", b, got, want)
		}
	}
}

func TestSecretPrefixAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for range 20000 {
		text := randomRedactText(rng)
		for k := range len(text) {
			want := false
			for _, p := range literalKeywords {
				want = want || strings.HasPrefix(text[k:], p)
			}
			if got := secretPrefixAt(text, k); got != want {
				t.Errorf("secretPrefixAt(%q, %d) = %v, want %v", text, k, got, want)
			}
		}
	}
}
