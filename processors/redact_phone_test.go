package processors

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// phoneContextTokens build the texts before a phone number for
// TestPhoneContextScannersMatchPatterns: labels and verbs in every case,
// with the Kelvin sign and the long s, the separators of both rules, word
// characters that break \b, letters and digits of other scripts, line
// feeds and invalid UTF-8.
var phoneContextTokens = []string{
	"phone", "PHONE", "Tel", "telephone", "mobile", "mob", "cell", "call", "fax", "WhatsApp", "sms", "\u017fms", "sm\u017f", "SMS",
	"order", "Invoice", "ticket", "tic\u212aet", "case", "ca\u017fe", "ref", "reference", "tracking", "account", "acct",
	"customer", "po", "sku", "\u017f\u212au", "serial", "id", "no", "nr", "number", "NO",
	"at", "on", "me at", "me on", "us at", "u\u017f on", "AT", "me  at",
	" ", " ", "  ", "\t", ":", ".", "#", "-", "_", ",", ")", "(", "+", "/", "\n", "\r",
	"x", "é", "ß", "\u00a0", "—", "٣", "Ⅻ", "1", "2", "\xff", "\xc5", "\xe2\x84", "\u212a",
}

func TestPhoneContextScannersMatchPatterns(t *testing.T) {
	fixed := []string{
		"", "phone", "phone:", "phone: ", "phone:      ", "phone:       ", "Call me at ", "call me at", "call meat ",
		"xphone: ", "_phone ", "phone_", "smſ_", "smſat ", "smſ at ", "xſms ", " ſms ", "order ", "order #", "ref:-",
		"Order No. ", "# ", "#\t", "#x", "reorder ", "po", "xpo", "(po ", "line\nphone\n", "phone\n", "tel\u212a ",
	}
	rng := rand.New(rand.NewPCG(41, 42))
	texts := fixed
	for range 100000 {
		var b strings.Builder
		for range 1 + rng.IntN(7) {
			b.WriteString(phoneContextTokens[rng.IntN(len(phoneContextTokens))])
		}
		texts = append(texts, b.String())
	}
	for _, before := range texts {
		if got, want := endsWithPhoneLabel(before), refphoneLabelRe.MatchString(before); got != want {
			t.Errorf("endsWithPhoneLabel(%q) = %v, want %v as the label pattern", before, got, want)
		}
		if got, want := endsWithPhoneReference(before), refphoneReferenceRe.MatchString(before); got != want {
			t.Errorf("endsWithPhoneReference(%q) = %v, want %v as the reference pattern", before, got, want)
		}
	}
}
