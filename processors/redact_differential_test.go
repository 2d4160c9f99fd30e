package processors

import (
	"context"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"mailtriage/internal/mime"
	"mailtriage/schemas"
)

// The tests in this file compare Redact with refRedact, the implementation
// that scanned every byte of a text once per pattern. redact_reference_test.go
// holds that implementation unchanged except for the "ref" prefix on its
// top-level names and the fix of where an AWS or Google key ends, marked
// there. Both must produce the same text and the same counts.

// checkSameRedaction fails when RedactText and the reference disagree on in.
func checkSameRedaction(t *testing.T, label, in string) {
	t.Helper()
	got, gotCounts := RedactText(in)
	want, wantCounts := refRedactText(in)
	if got != want {
		t.Errorf("%s: RedactText(%q)\n = %q\nwant %q (reference)", label, in, got, want)
	}
	if !maps.Equal(gotCounts, wantCounts) {
		t.Errorf("%s: counts of %q = %v, want %v (reference)", label, in, gotCounts, wantCounts)
	}
}

func TestRedactMatchesReferenceOnTokens(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, s := range redactSeeds {
		checkSameRedaction(t, "seed", s)
	}
	for range 20000 {
		checkSameRedaction(t, "random", randomRedactText(rng))
	}
}

func TestRedactMatchesReferenceOnBenchMail(t *testing.T) {
	for i, e := range benchMail(benchMixSize) {
		checkRedactProcessSame(t, "bench mail "+e.MessageID, e)
		if i == 0 {
			checkSameRedaction(t, "log lines", benchLargeMail().Text)
		}
	}
}

func TestRedactMatchesReferenceOnCorpus(t *testing.T) {
	var files []string
	err := filepath.WalkDir(corpusDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			files = append(files, path)
		}
		return nil
	})
	if os.IsNotExist(err) {
		t.Skipf("corpus folder %s not found; check out the shared folder beside the repository to run this test", corpusDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	parsed := 0
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := mime.Parse(raw, mime.Options{Tenant: "default", Source: schemas.SourceImport})
		if err != nil {
			continue // not mail; the parser tests cover these files
		}
		parsed++
		checkRedactProcessSame(t, path, p.Email)
		// The raw bytes hold headers, encoded parts and markup that the
		// parsed fields lack.
		checkSameRedaction(t, path+" raw", strings.ToValidUTF8(string(raw), "\uFFFD"))
	}
	if parsed < 200 {
		t.Errorf("parsed %d corpus files, want at least 200; is the corpus complete?", parsed)
	}
}

// checkRedactProcessSame runs Redact and refRedact on copies of e and
// compares every field.
func checkRedactProcessSame(t *testing.T, label string, e schemas.InboundEmail) {
	t.Helper()
	got := freshMessage(e, 0, nil)
	want := freshMessage(e, 0, nil)
	if _, err := NewRedact().Process(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	if _, err := refNewRedact().Process(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Email, want.Email) {
		t.Errorf("%s: Redact and the reference differ:\nsubject %q / %q\nPII %v / %v", label,
			got.Email.Subject, want.Email.Subject, got.Email.PII, want.Email.PII)
		for name, pair := range map[string][2]string{
			"Text": {got.Email.Text, want.Email.Text}, "HTML": {got.Email.HTML, want.Email.HTML},
			"ReplyText": {got.Email.ReplyText, want.Email.ReplyText},
		} {
			if pair[0] != pair[1] {
				t.Errorf("%s: %s differs at byte %d", label, name, firstDifference(pair[0], pair[1]))
			}
		}
	}
}

func firstDifference(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// TestAnchoredPatternsMatchOriginals checks that each anchored pattern,
// tried at the keyword offsets of the index, finds what its original
// pattern finds over the whole text.
func TestAnchoredPatternsMatchOriginals(t *testing.T) {
	pairs := map[string]struct {
		anchored *anchoredRegexp
		original *scopedRegexp
	}{
		"authorization":  {authorizationAnchored, authorizationScoped},
		"secret prefix":  {secretPrefixAnchored, secretPrefixScoped},
		"secret assign":  {secretAssignAnchored, secretAssignScoped},
		"password":       {passwordAnchored, passwordScoped},
		"passcode":       {passcodeAnchored, passcodeScoped},
		"password prose": {passwordProseAnchored, passwordProseScoped},
	}
	rng := rand.New(rand.NewPCG(33, 34))
	texts := []string{"", "pin", "Bearer  \n abcdefghijklmnop1234", benchProse(rng, 4<<10)}
	for range 20000 {
		texts = append(texts, randomRedactText(rng))
	}
	for name, p := range pairs {
		for _, text := range texts {
			got := p.anchored.findAll(text, newRedactIndex(text).anchors, nil)
			want := p.original.re.FindAllStringSubmatchIndex(text, -1)
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("%s in %q: anchored matches %v, original matches %v", name, text, got, want)
			}
		}
	}
}

// TestRedactIndexApply checks that an index updated after replacements
// equals an index built from the new text, both when each detector's
// matches are replaced in turn and when the matches of several detectors
// are replaced at once.
func TestRedactIndexApply(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for range 5000 {
		text := randomRedactText(rng)
		ix := newRedactIndex(text)
		var spare redactIndex
		for di, d := range piiDetectors {
			reps := replacementsOf(dropOverlaps(d.find(nil, text, ix)), di)
			if len(reps) == 0 {
				continue
			}
			text = applyReplacements(text, reps)
			ix.apply(text, reps, &spare)
			checkIndexEqual(t, "after "+d.kind, ix, newRedactIndex(text))
		}

		text = randomRedactText(rng) + "\n" + randomRedactText(rng)
		ix = newRedactIndex(text)
		var all []replacement
		for di, d := range piiDetectors {
			for _, r := range replacementsOf(dropOverlaps(d.find(nil, text, ix)), di) {
				if !slices.ContainsFunc(all, func(o replacement) bool { return o.start < r.end && r.start < o.end }) {
					all = append(all, r)
				}
			}
		}
		slices.SortFunc(all, func(a, b replacement) int { return a.start - b.start })
		text = applyReplacements(text, all)
		ix.apply(text, all, &spare)
		checkIndexEqual(t, "after all detectors at once", ix, newRedactIndex(text))
	}
}

func replacementsOf(matches []piiMatch, detector int) []replacement {
	var reps []replacement
	for _, m := range matches {
		reps = append(reps, replacement{m.start, m.end, detector})
	}
	return reps
}

func applyReplacements(s string, reps []replacement) string {
	var b strings.Builder
	last := 0
	for _, r := range reps {
		b.WriteString(s[last:r.start])
		b.WriteString(piiDetectors[r.detector].placeholder)
		last = r.end
	}
	b.WriteString(s[last:])
	return b.String()
}

func checkIndexEqual(t *testing.T, label string, got, want *redactIndex) {
	t.Helper()
	if got.s != want.s {
		t.Fatalf("%s: index of %q, want of %q", label, got.s, want.s)
	}
	for name, pair := range map[string][2][]int{
		"digit runs": {got.digitRuns, want.digitRuns}, "anchors": {got.anchors, want.anchors},
		"@": {got.ats, want.ats}, ":": {got.colons, want.colons},
	} {
		if !slices.Equal(pair[0], pair[1]) {
			t.Fatalf("%s in %q: updated index has %s %v, built index %v", label, got.s, name, pair[0], pair[1])
		}
	}
}

// FuzzRedactMatchesReference compares Redact with the reference on any
// text.
func FuzzRedactMatchesReference(f *testing.F) {
	for _, s := range redactSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkSameRedaction(t, "fuzz", in)
	})
}

// TestRedactMatchesReferenceOnLongTexts compares Redact with the
// reference on longer texts of several lines, where the detectors' items
// stand close together and one detector's placeholder often borders
// another's match.
func TestRedactMatchesReferenceOnLongTexts(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	for range 3000 {
		var b strings.Builder
		for range 2 + rng.IntN(6) {
			b.WriteString(randomRedactText(rng))
			b.WriteString(randomRedactText(rng))
			b.WriteString([]string{"\n", " ", "", ". "}[rng.IntN(4)])
		}
		checkSameRedaction(t, "long", b.String())
	}
}

// TestRedactIndexWindow checks that the index of a part of a text taken
// from the text's index equals the index built from the part.
func TestRedactIndexWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(39, 40))
	var ix redactIndex
	for range 5000 {
		text := randomRedactText(rng) + randomRedactText(rng)
		full := newRedactIndex(text)
		for n := 0; n <= len(text); n += 1 + rng.IntN(7) {
			ix.prefixOf(full, n)
			checkIndexEqual(t, "prefix", &ix, newRedactIndex(text[:n]))
			from := rng.IntN(n + 1)
			ix.windowOf(full, from, n)
			checkIndexEqual(t, "window", &ix, newRedactIndex(text[from:n]))
		}
	}
}
