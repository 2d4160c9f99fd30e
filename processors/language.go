package processors

import (
	"bytes"
	"maps"
	"math/bits"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// detectLanguage returns the ISO 639-1 code of the language that texts are
// written in, or "" when it cannot tell. It reads at most
// languageSampleBytes of the joined texts.
//
// It works in two steps. The script of most letters decides languages that
// have a script of their own (Greek, Hebrew, Thai, Korean, Japanese,
// Chinese, Arabic and Persian, Hindi, Russian and Ukrainian). For Latin
// script it counts the words of the sample that are common function words
// of each language in latinWords. Each letter that only one to three of
// those languages use (ß, ñ, ã, ł, ř, ğ and others in distinctLetters)
// adds one point. The highest count wins when it is at least
// minLanguageScore and no other language has the same count.
//
// NOTE: this is a heuristic for routing, not a general language
// identifier. It needs a sentence or two: a greeting alone is often
// undetermined. Closely related languages (Danish and Norwegian, Czech and
// Slovak, Russian and Bulgarian) can be confused, and Slovak, Bulgarian
// and every language outside supportedLanguages are never returned.
func detectLanguage(texts ...string) string {
	sample := languageSample(texts)
	if script := dominantScript(sample); script != "" {
		return script
	}
	return latinLanguage(sample)
}

// languageSampleBytes bounds the text detectLanguage reads, so that its
// cost per message stays flat for long bodies.
const languageSampleBytes = 4096

// minLanguageScore is the smallest count of function words and distinct
// letters that decides a Latin-script language.
const minLanguageScore = 2

// SupportedLanguages returns the ISO 639-1 codes that a language condition
// may name, sorted: the languages the built-in detector can tell apart.
func SupportedLanguages() []string { return slices.Clone(supportedLanguages) }

// supportedLanguages is the list SupportedLanguages returns.
var supportedLanguages = func() []string {
	codes := []string{"ar", "el", "fa", "he", "hi", "ja", "ko", "ru", "th", "uk", "zh"}
	for code := range latinWords {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	return codes
}()

// languageSample returns the first languageSampleBytes of texts joined,
// each followed by "\n", with the invalid UTF-8 of a cut sample dropped.
// It copies no more of the texts than the sample holds.
func languageSample(texts []string) string {
	joined := 0 // the length of the joined texts that the sample reaches into
	for _, t := range texts {
		if joined >= languageSampleBytes {
			break
		}
		joined += len(t) + 1
	}
	var b strings.Builder
	b.Grow(min(joined, languageSampleBytes))
	for _, t := range texts {
		room := languageSampleBytes - b.Len()
		if room <= 0 {
			break
		}
		b.WriteString(t[:min(len(t), room)])
		if len(t) < room {
			b.WriteByte('\n')
		}
	}
	s := b.String()
	if joined > languageSampleBytes {
		s = strings.ToValidUTF8(s, "")
	}
	return s
}

// Scripts that dominantScript counts.
const (
	scriptLatin = iota
	scriptCyrillic
	scriptGreek
	scriptHebrew
	scriptArabic
	scriptThai
	scriptDevanagari
	scriptHangul
	scriptCJK // Han, Hiragana and Katakana
	scriptCount
)

// scriptLanguages is the language of each script that has one language
// of its own in supportedLanguages.
var scriptLanguages = [scriptCount]string{
	scriptGreek: "el", scriptHebrew: "he", scriptThai: "th", scriptDevanagari: "hi", scriptHangul: "ko",
}

// dominantScript returns the language of a non-Latin script that more than
// half of the letters of s are written in, or "".
func dominantScript(s string) string {
	var counts [scriptCount]int
	letters := 0
	ukrainian, persian, kana := false, false, false
	for _, r := range s {
		if r < 0x80 {
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
				letters++
				counts[scriptLatin]++
			}
			continue
		}
		if !unicode.IsLetter(r) {
			continue
		}
		letters++
		switch {
		case unicode.Is(unicode.Latin, r):
			counts[scriptLatin]++
		case unicode.Is(unicode.Cyrillic, r):
			counts[scriptCyrillic]++
			ukrainian = ukrainian || strings.ContainsRune("іїєґІЇЄҐ", r)
		case unicode.Is(unicode.Greek, r):
			counts[scriptGreek]++
		case unicode.Is(unicode.Hebrew, r):
			counts[scriptHebrew]++
		case unicode.Is(unicode.Arabic, r):
			counts[scriptArabic]++
			// Persian letters that Arabic text does not use: pe, che, zhe,
			// gaf, keheh and Farsi yeh.
			persian = persian || strings.ContainsRune("پچژگکی", r)
		case unicode.Is(unicode.Thai, r):
			counts[scriptThai]++
		case unicode.Is(unicode.Devanagari, r):
			counts[scriptDevanagari]++
		case unicode.Is(unicode.Hangul, r):
			counts[scriptHangul]++
		case unicode.Is(unicode.Hiragana, r), unicode.Is(unicode.Katakana, r):
			counts[scriptCJK]++
			kana = true
		case unicode.Is(unicode.Han, r):
			counts[scriptCJK]++
		}
	}

	for script, n := range counts {
		if 2*n <= letters {
			continue
		}
		switch script {
		case scriptLatin:
			return ""
		case scriptCyrillic:
			if ukrainian {
				return "uk"
			}
			return "ru"
		case scriptArabic:
			if persian {
				return "fa"
			}
			return "ar"
		case scriptCJK:
			// Japanese mixes kana into Han text, Chinese uses none.
			if kana {
				return "ja"
			}
			return "zh"
		default:
			return scriptLanguages[script]
		}
	}
	return ""
}

// latinLanguage scores s against latinWords and distinctLetters: one
// point per word of s, in lower case and without leading or trailing "'",
// that a language lists, and one per distinct letter that a language uses.
// It reads s once, without lower-casing a copy of it.
func latinLanguage(s string) string {
	var scores [len(latinLanguages)]int
	var seen uint64 // the distinctLetterInfo bits of the letters counted
	word := make([]byte, 0, 64)
	addWord := func() {
		for langs := latinWordLangs[string(bytes.Trim(word, "'"))]; langs != 0; langs &= langs - 1 {
			scores[bits.TrailingZeros32(langs)]++
		}
		word = word[:0]
	}
	for _, r := range s {
		if r < utf8.RuneSelf {
			c := byte(r)
			switch {
			case 'a' <= c && c <= 'z' || c == '\'':
				word = append(word, c)
			case 'A' <= c && c <= 'Z':
				word = append(word, c+'a'-'A')
			case len(word) > 0:
				addWord()
			}
			continue
		}
		r = unicode.ToLower(r)
		if info, ok := distinctLetterInfo[r]; ok && seen&info.bit == 0 {
			seen |= info.bit
			for langs := info.langs; langs != 0; langs &= langs - 1 {
				scores[bits.TrailingZeros32(langs)]++
			}
		}
		if unicode.IsLetter(r) {
			word = utf8.AppendRune(word, r)
		} else if len(word) > 0 {
			addWord()
		}
	}
	if len(word) > 0 {
		addWord()
	}

	best, bestScore, tie := -1, 0, false
	for lang, score := range scores {
		switch {
		case score > bestScore:
			best, bestScore, tie = lang, score, false
		case score == bestScore && score > 0:
			tie = true
		}
	}
	if bestScore < minLanguageScore || tie {
		return ""
	}
	return latinLanguages[best]
}

// latinLanguages lists the codes of latinWords, sorted; a language's
// index in it is its bit in latinWordLangs and distinctLetterInfo.
var latinLanguages = [...]string{"cs", "da", "de", "en", "es", "fi", "fr", "hu", "it", "nl", "no", "pl", "pt", "sv", "tr"}

// latinLanguageIndex returns the index of code in latinLanguages.
func latinLanguageIndex(code string) int {
	i, ok := slices.BinarySearch(latinLanguages[:], code)
	if !ok {
		panic("language " + code + " of latinWords or distinctLetters is missing from latinLanguages")
	}
	return i
}

// latinWordLangs maps a word of latinWords to the bits of the languages
// that list it.
var latinWordLangs = func() map[string]uint32 {
	if len(latinWords) != len(latinLanguages) {
		panic("latinLanguages does not list every language of latinWords")
	}
	index := map[string]uint32{}
	for lang, words := range latinWords {
		bit := uint32(1) << latinLanguageIndex(lang)
		for _, w := range strings.Fields(words) {
			index[w] |= bit
		}
	}
	return index
}()

// distinctLetterInfo holds, for each letter of distinctLetters, a bit of
// its own and the bits of its languages.
var distinctLetterInfo = func() map[rune]struct {
	bit   uint64
	langs uint32
} {
	info := make(map[rune]struct {
		bit   uint64
		langs uint32
	}, len(distinctLetters))
	letters := slices.Sorted(maps.Keys(distinctLetters))
	for i, r := range letters {
		e := info[r]
		e.bit = 1 << i
		for _, lang := range distinctLetters[r] {
			e.langs |= 1 << latinLanguageIndex(lang)
		}
		info[r] = e
	}
	return info
}()

// distinctLetters maps a lower-case letter to the only languages of
// latinWords that use it in ordinary words.
var distinctLetters = map[rune][]string{
	'ß': {"de"},
	'ñ': {"es"}, '¿': {"es"}, '¡': {"es"},
	'ã': {"pt"}, 'õ': {"pt"},
	'œ': {"fr"},
	'ø': {"da", "no"}, 'æ': {"da", "no"},
	'å': {"sv", "da", "no"},
	'ł': {"pl"}, 'ą': {"pl"}, 'ę': {"pl"}, 'ś': {"pl"}, 'ź': {"pl"}, 'ż': {"pl"}, 'ń': {"pl"},
	'ř': {"cs"}, 'ě': {"cs"}, 'ů': {"cs"},
	'ğ': {"tr"}, 'ş': {"tr"}, 'ı': {"tr"},
	'ő': {"hu"}, 'ű': {"hu"},
}

// latinWords holds, per ISO 639-1 code, common function words and the
// words of greetings and thanks that support mail uses, in lower case.
// A word may appear under several languages.
var latinWords = map[string]string{
	"cs": `a je se na to že v s z do jak ale můj moje prosím děkuji dobrý den mám má jsem
		od po za ano už pro který která není nebo jsou bych jste vám vás mi`,
	"da": `og at det er jeg en et ikke som på med for har til af den de min mit mine vi hej tak
		kan vil gerne men eller fra hvordan også meget venlig hilsen jeres jer hvad jeg`,
	"de": `der die das und ist nicht ich sie es ein eine einen mit den dem zu von auf für bitte
		danke haben habe wir mein meine ihr ihre sind auch noch wie aber oder wenn kann können
		sehr hallo guten tag vielen dank bei nach schon grüße freundlichen`,
	"en": `the and of to is in that it for you was with on are have be this not but my your we
		i can please would could will from at me what has been an or if do there they thank
		thanks hello regards`,
	"es": `el la los las y es en un una que de por para con no mi mis su sus usted gracias hola
		pero como está estoy tengo tiene muy del al se lo le ha he nuestro buenos días favor`,
	"fi": `ja on ei että se hän minä olen ole kiitos hei mutta tai kun myös voi voitteko minun
		teidän ovat oli tämä tämän siitä mitä kanssa vielä nyt kuin terveisin`,
	"fr": `le la les et est une un des du je vous nous pas que qui pour dans avec sur mon ma mes
		votre vos ce cette il elle mais ou bonjour merci avez ai suis sont été très au aux plus
		ne cordialement`,
	"hu": `a az és hogy nem is egy van ez de meg már csak még kérem köszönöm jó napot vagyok
		volt lesz nekem önök velem szeretném`,
	"it": `il lo la gli le e è di che non un una per con sono ho ha mi mio mia grazie buongiorno
		ciao della del dei nel alla al come ma anche questo questa vorrei sto salve molto`,
	"nl": `de het een en is van ik je u niet dat die met voor op zijn hebben heb maar ook mijn uw
		wij we bedankt dank graag hallo goedemorgen er wat kan kunt bij naar nog geen deze dit`,
	"no": `og at det er jeg en et ikke som på med for har til av den de min mitt mine dere vi hei
		takk kan vil gjerne men eller fra hvordan også mye vennlig hilsen deres hva`,
	"pl": `i w nie się na jest to że z do jak ale mój moja moje proszę dziękuję dzień dobry czy
		mam ma jestem być od po za o tak już przez tylko bardzo dla który która`,
	"pt": `o a os as e é de do da dos das que não um uma para com por meu minha obrigado
		obrigada olá bom dia em no na se mas como você eu tenho está foi ao muito pelo pela`,
	"sv": `och att det är jag en ett inte som på med för har till av den de min mitt mina ni vi
		hej tack kan skulle vill om men eller från hur också mycket vänliga hälsningar`,
	"tr": `ve bir bu için ile de da ne ben siz merhaba teşekkür teşekkürler ederim lütfen var
		yok değil çok ama veya gibi olarak benim sizin nasıl daha mi mı`,
}
