package processors

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// referenceLanguageSample and referenceLatinLanguage are languageSample
// and latinLanguage as first written, which lower-cased and split a copy
// of the sample. The single-pass versions must give the same results.
func referenceLanguageSample(texts []string) string {
	var b strings.Builder
	for _, t := range texts {
		if b.Len() >= languageSampleBytes {
			break
		}
		b.WriteString(t)
		b.WriteByte('\n')
	}
	s := b.String()
	if len(s) > languageSampleBytes {
		s = strings.ToValidUTF8(s[:languageSampleBytes], "")
	}
	return s
}

var referenceLatinWordIndex = func() map[string][]string {
	index := map[string][]string{}
	for lang, words := range latinWords {
		for _, w := range strings.Fields(words) {
			if !slices.Contains(index[w], lang) {
				index[w] = append(index[w], lang)
			}
		}
	}
	return index
}()

func referenceLatinLanguage(s string) string {
	index := referenceLatinWordIndex
	scores := map[string]int{}
	lower := strings.ToLower(s)
	words := strings.FieldsFunc(lower, func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	})
	for _, w := range words {
		for _, lang := range index[strings.Trim(w, "'")] {
			scores[lang]++
		}
	}
	seen := map[rune]bool{}
	for _, r := range lower {
		if r >= 0x80 && !seen[r] {
			seen[r] = true
			for _, lang := range distinctLetters[r] {
				scores[lang]++
			}
		}
	}
	best, bestScore, tie := "", 0, false
	for lang, score := range scores {
		switch {
		case score > bestScore:
			best, bestScore, tie = lang, score, false
		case score == bestScore:
			tie = true
		}
	}
	if bestScore < minLanguageScore || tie {
		return ""
	}
	return best
}

// randomLanguageText returns words of latinWords in several languages,
// in mixed case, with apostrophes, distinct letters, other scripts and
// invalid UTF-8 between them.
func randomLanguageText(rng *rand.Rand, words []string, maxLen int) string {
	extras := []string{
		" ", ", ", "'", "''", "\n", "ß", "Ñ", "¿", "Å", "ł", "Ř", "İ", "\u212a", "ı", "Straße", "ÇA",
		"日本", "Здравствуйте", "\xff", "\xc3", "\u00a0", "123", "don't", "'the'", "THE", "De",
	}
	var b strings.Builder
	n := rng.IntN(maxLen + 1)
	for b.Len() < n {
		if rng.IntN(3) == 0 {
			b.WriteString(extras[rng.IntN(len(extras))])
		} else {
			w := words[rng.IntN(len(words))]
			if rng.IntN(4) == 0 {
				w = strings.ToUpper(w)
			}
			b.WriteString(w)
		}
		b.WriteByte(" ,.'"[rng.IntN(4)])
	}
	return b.String()
}

func TestLanguageDetectionMatchesReference(t *testing.T) {
	var words []string
	for _, code := range slices.Sorted(func(yield func(string) bool) {
		for code := range latinWords {
			if !yield(code) {
				return
			}
		}
	}) {
		words = append(words, strings.Fields(latinWords[code])...)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	decided := 0
	for i := range 3000 {
		// Few words give ties and scores near minLanguageScore, and long texts
		// cross languageSampleBytes.
		subject := randomLanguageText(rng, words, 30)
		body := randomLanguageText(rng, words, []int{20, 200, languageSampleBytes + 50}[i%3])
		texts := []string{subject, body}
		sample := languageSample(texts)
		if want := referenceLanguageSample(texts); sample != want {
			t.Fatalf("languageSample(%q) = %q, want %q", texts, sample, want)
		}
		if got, want := latinLanguage(sample), referenceLatinLanguage(sample); got != want {
			t.Fatalf("latinLanguage(%q) = %q, want %q", sample, got, want)
		}
		if want := referenceLatinLanguage(sample); want != "" {
			decided++
		}
	}
	// The comparison means little unless many texts get a language.
	if decided < 300 {
		t.Errorf("only %d of 3000 random texts got a language, so the generator should give more", decided)
	}
	for _, e := range benchMail(benchMixSize) {
		sample := languageSample([]string{e.Subject, e.ReplyText})
		if got, want := latinLanguage(sample), referenceLatinLanguage(sample); got != want {
			t.Errorf("latinLanguage of %s = %q, want %q", e.MessageID, got, want)
		}
	}
}
