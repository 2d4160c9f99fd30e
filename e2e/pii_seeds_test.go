package e2e

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"mailtriage/processors"
)

// The PII kinds that processors.Redact detects, each with the placeholder
// that replaces a detected value (processors/redact_detectors.go):
//
//   - email: addresses, Unicode letters included;
//   - phone: international (+ or 00), national with a trunk prefix, North
//     American, and any 8 to 15 digits after a label such as "mobile:";
//   - card: 13 to 19 digits that pass Luhn, start with 2 to 6 and are
//     written in the 4-4-4-4 or 4-6-5 layouts or without separators;
//   - iban: IBANs that pass the mod-97 check, grouped or not;
//   - ssn: US social security numbers, dashed or after an "SSN" label;
//   - ip: IPv4 and IPv6 addresses;
//   - secret: Authorization and bare Bearer credentials, tokens with an
//     issuer prefix (Stripe, AWS, GitHub, Slack, GitLab, Google, "sk-" keys,
//     JSON Web Tokens) and random values assigned to key-like names;
//   - password: values after "password:", "pwd=", "Passwort:", "passcode",
//     "PIN is" and in prose such as "my password is hunter2!".
var piiPlaceholders = map[string]string{
	processors.PIIEmail:    "[EMAIL]",
	processors.PIIPhone:    "[PHONE]",
	processors.PIICard:     "[CARD]",
	processors.PIIIBAN:     "[IBAN]",
	processors.PIISSN:      "[SSN]",
	processors.PIIIP:       "[IP]",
	processors.PIISecret:   "[SECRET]",
	processors.PIIPassword: "[PASSWORD]",
}

// Kinds of seeded values that the redactor does not detect in text but
// that must not leave the ticket store either: the display names and
// addresses of the From header.
const (
	seedDisplayName   = "display name"
	seedSenderAddress = "sender address"
)

// piiValue is one seeded value. also lists other forms in which it could
// leak, such as the digits of a card without its spaces.
type piiValue struct {
	kind string
	text string
	also []string
}

// piiMail is one test message. Its subject and body carry values of the
// kinds in counts, and counts is the number of distinct values of each
// kind, as InboundEmail.PII must count them after Redact.
type piiMail struct {
	id          string
	fromName    string
	fromAddress string
	subject     string
	body        string
	counts      map[string]int32
	// deadLetter marks the message whose classification fails, so that
	// it goes to the DLQ after Redact ran.
	deadLetter bool
}

// piiValues lists every seeded value. Each appears in the subject or the
// body of a message of piiMails, or in its From header.
var piiValues = []piiValue{
	{kind: processors.PIIEmail, text: "jane.doe@example.com"},
	{kind: processors.PIIEmail, text: "ops+billing@sub.example.co.uk"},
	{kind: processors.PIIEmail, text: "bjørn.ødegård@eksempel.no"},

	{kind: processors.PIIPhone, text: "+44 20 7946 0958", also: []string{"442079460958"}},
	{kind: processors.PIIPhone, text: "(212) 555-0143", also: []string{"2125550143"}},
	{kind: processors.PIIPhone, text: "0049 30 901820", also: []string{"004930901820"}},
	{kind: processors.PIIPhone, text: "020 7946 0018", also: []string{"02079460018"}},
	{kind: processors.PIIPhone, text: "06 12 34 56 78", also: []string{"0612345678"}},
	{kind: processors.PIIPhone, text: "07700900461"},

	{kind: processors.PIICard, text: "4111 1111 1111 1111", also: []string{"4111111111111111"}},
	{kind: processors.PIICard, text: "5500-0000-0000-0004", also: []string{"5500000000000004"}},
	{kind: processors.PIICard, text: "3782 822463 10005", also: []string{"378282246310005"}},
	{kind: processors.PIICard, text: "6011111111111117"},

	{kind: processors.PIIIBAN, text: "DE89 3704 0044 0532 0130 00", also: []string{"DE89370400440532013000"}},
	{kind: processors.PIIIBAN, text: "GB82WEST12345698765432"},
	{kind: processors.PIIIBAN, text: "FR14 2004 1010 0505 0001 3M02 606", also: []string{"FR1420041010050500013M02606"}},

	{kind: processors.PIISSN, text: "078-05-1120", also: []string{"078051120"}},
	{kind: processors.PIISSN, text: "219 09 9999", also: []string{"219099999"}},

	{kind: processors.PIIIP, text: "203.0.113.45"},
	{kind: processors.PIIIP, text: "2001:db8:85a3::8a2e:370:7334"},

	{kind: processors.PIISecret, text: "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
	{kind: processors.PIISecret, text: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwaWktZTJlIn0.Qm9ndXNTaWduYXR1cmU0Mg"},
	{kind: processors.PIISecret, text: "AKIAQ7PIIE2ETESTKEY9"},
	{kind: processors.PIISecret, text: "ghp_R8x2Lq9Vt4Zp7Nw1Ks5Hc3Md6Fj0Gb2Yu8Ea"},
	{kind: processors.PIISecret, text: "xoxb-2048-4096-Pq7RsT9uVw"},
	{kind: processors.PIISecret, text: "9fK2xQ7mL4pR8tZ1vB6n"},
	{kind: processors.PIISecret, text: "mF3kQ9zL2xV7pR4tN8wB"},
	{kind: processors.PIISecret, text: "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv"},
	{kind: processors.PIISecret, text: "glpat-xY9zK3mN7pQ2rS5tV8wZ"},
	{kind: processors.PIISecret, text: "AIzaSyD3x9Kq7LmN2pR5tV8wZ1bC4eF6hJ0kMnQ"},
	{kind: processors.PIISecret, text: "sk-proj-Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7"},
	{kind: processors.PIISecret, text: "pk_test_51HxYzAbCdEf9876"},
	{kind: processors.PIISecret, text: "ASIAY34FZKBOKMUTVV7A"},
	{kind: processors.PIISecret, text: "Zm9vYmFyLXRva2VuLTk4NzY1NDMyMQ"},
	{kind: processors.PIISecret, text: "dXNlcjpzM2NyZXQtOTg3Ng=="},
	{kind: processors.PIISecret, text: "ya29a0AfH6SMBx3kLq9Vz7Np2Rt5"},

	{kind: processors.PIIPassword, text: "Tr0ub4dor&3x"},
	{kind: processors.PIIPassword, text: "Xy7#pQ2!"},
	{kind: processors.PIIPassword, text: "73915482"},
	{kind: processors.PIIPassword, text: "hunter2"},
	{kind: processors.PIIPassword, text: "Gehe1m$9"},
	{kind: processors.PIIPassword, text: "Qz8%mW3^k"},
	{kind: processors.PIIPassword, text: "90417352"},

	{kind: seedDisplayName, text: "Jane Q. Doe"},
	{kind: seedDisplayName, text: "Bjørn Ødegård"},
	{kind: seedDisplayName, text: "Siobhán O'Brien"},
	{kind: seedDisplayName, text: "Amélie Laurent-Dubois"},
	{kind: seedDisplayName, text: "Kenji Watanabe"},
	{kind: seedDisplayName, text: "Dr. Priya Raghunathan"},
	{kind: seedDisplayName, text: "Tomás Herrera Vidal"},
	{kind: seedDisplayName, text: "Ingrid Kowalczyk-Berg"},

	{kind: seedSenderAddress, text: "siobhan.obrien@mail.example.org"},
	{kind: seedSenderAddress, text: "amelie.laurent@courriel.example.fr"},
	{kind: seedSenderAddress, text: "k.watanabe@example.jp"},
	{kind: seedSenderAddress, text: "priya.r@clinic.example.in"},
	{kind: seedSenderAddress, text: "tomas.herrera@correo.example.es"},
	{kind: seedSenderAddress, text: "ingrid.kb@post.example.se"},
}

// piiMails are the test messages: one per group of kinds, and one that
// carries every kind and goes to the DLQ.
var piiMails = []piiMail{
	{
		id: "emails", fromName: "Jane Q. Doe", fromAddress: "jane.doe@example.com",
		subject: "Update my contact to jane.doe@example.com",
		body:    "Hello, please write to ops+billing@sub.example.co.uk or to bjørn.ødegård@eksempel.no from now on.",
		counts:  map[string]int32{processors.PIIEmail: 3},
	},
	{
		id: "phones", fromName: "Bjørn Ødegård", fromAddress: "bjørn.ødegård@eksempel.no",
		subject: "Call me back on +44 20 7946 0958",
		body:    "Office (212) 555-0143, Berlin 0049 30 901820, London 020 7946 0018, Paris 06 12 34 56 78, mobile: 07700900461 after six.",
		counts:  map[string]int32{processors.PIIPhone: 6},
	},
	{
		id: "cards", fromName: "Siobhán O'Brien", fromAddress: "siobhan.obrien@mail.example.org",
		subject: "Charged twice on 4111 1111 1111 1111",
		body:    "Also charged on 5500-0000-0000-0004, the Amex 3782 822463 10005 and the Discover 6011111111111117.",
		counts:  map[string]int32{processors.PIICard: 4},
	},
	{
		id: "ibans", fromName: "Amélie Laurent-Dubois", fromAddress: "amelie.laurent@courriel.example.fr",
		subject: "Refund to DE89 3704 0044 0532 0130 00 please",
		body:    "If that fails use GB82WEST12345698765432 or FR14 2004 1010 0505 0001 3M02 606 instead.",
		counts:  map[string]int32{processors.PIIIBAN: 3},
	},
	{
		id: "ssn-ip", fromName: "Kenji Watanabe", fromAddress: "k.watanabe@example.jp",
		subject: "SSN 078-05-1120 on the form",
		body:    "My social security number: 219 09 9999. I logged in from 203.0.113.45 and from 2001:db8:85a3::8a2e:370:7334 today.",
		counts:  map[string]int32{processors.PIISSN: 2, processors.PIIIP: 2},
	},
	{
		id: "secrets", fromName: "Dr. Priya Raghunathan", fromAddress: "priya.r@clinic.example.in",
		subject: "Leaked key sk_live_4eC39HqLyjWDarjtT1zdp7dc",
		body: "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwaWktZTJlIn0.Qm9ndXNTaWduYXR1cmU0Mg\n" +
			"aws AKIAQ7PIIE2ETESTKEY9 github ghp_R8x2Lq9Vt4Zp7Nw1Ks5Hc3Md6Fj0Gb2Yu8Ea slack xoxb-2048-4096-Pq7RsT9uVw\n" +
			"api_key=9fK2xQ7mL4pR8tZ1vB6n client_secret: mF3kQ9zL2xV7pR4tN8wB",
		counts: map[string]int32{processors.PIISecret: 7},
	},
	{
		id: "tokens", fromName: "Kenji Watanabe", fromAddress: "k.watanabe@example.jp",
		subject: "Rotate pk_test_51HxYzAbCdEf9876 too",
		body: "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv glpat-xY9zK3mN7pQ2rS5tV8wZ\n" +
			"AIzaSyD3x9Kq7LmN2pR5tV8wZ1bC4eF6hJ0kMnQ sk-proj-Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7 ASIAY34FZKBOKMUTVV7A\n" +
			"curl -H 'bearer Zm9vYmFyLXRva2VuLTk4NzY1NDMyMQ'\nAuthorization: Basic dXNlcjpzM2NyZXQtOTg3Ng==\naccess_token: ya29a0AfH6SMBx3kLq9Vz7Np2Rt5",
		counts: map[string]int32{processors.PIISecret: 9},
	},
	{
		id: "passwords", fromName: "Tomás Herrera Vidal", fromAddress: "tomas.herrera@correo.example.es",
		subject: "New password: Tr0ub4dor&3x",
		body:    "Old one pwd=Xy7#pQ2! and passcode 73915482.\nAlso my password is hunter2!\nPasswort: Gehe1m$9\npasswd=Qz8%mW3^k and the PIN is 90417352",
		counts:  map[string]int32{processors.PIIPassword: 7},
	},
	{
		id: "dead-letter", fromName: "Ingrid Kowalczyk-Berg", fromAddress: "ingrid.kb@post.example.se",
		subject:    "Account question " + poisonMarker("classify") + " jane.doe@example.com +44 20 7946 0958",
		deadLetter: true,
		body: "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, SSN 078-05-1120, from 203.0.113.45.\n" +
			"Key sk_live_4eC39HqLyjWDarjtT1zdp7dc and password: Tr0ub4dor&3x",
		counts: map[string]int32{
			processors.PIIEmail: 1, processors.PIIPhone: 1, processors.PIICard: 1, processors.PIIIBAN: 1,
			processors.PIISSN: 1, processors.PIIIP: 1, processors.PIISecret: 1, processors.PIIPassword: 1,
		},
	},
}

// undecodablePII is the value of a record that is not Avro: raw mail
// text with values of several kinds, as a misconfigured producer might
// write it.
var undecodablePII = []byte("From: Jane Q. Doe <jane.doe@example.com>\r\nSubject: card 4111 1111 1111 1111\r\n\r\n" +
	"IBAN DE89 3704 0044 0532 0130 00, phone +44 20 7946 0958, password: Tr0ub4dor&3x\r\n")

// leakForms returns every form of v whose presence in an output counts as
// a leak: the text and its other forms, each raw, as encoding/json writes
// it inside a string, and as Slack's mrkdwn escaping writes it.
func leakForms(v piiValue) []string {
	var forms []string
	mrkdwn := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	for _, s := range append([]string{v.text}, v.also...) {
		for _, f := range []string{s, mrkdwn.Replace(s)} {
			forms = append(forms, f, jsonEscaped(f))
		}
	}
	slices.Sort(forms)
	return slices.Compact(forms)
}

// jsonEscaped returns s as encoding/json writes it inside a string, with
// its HTML escaping of "&", "<" and ">".
func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// findLeaks returns a description of every seeded value found in text.
func findLeaks(text string) []string {
	var found []string
	for _, v := range piiValues {
		for _, form := range leakForms(v) {
			if strings.Contains(text, form) {
				found = append(found, v.kind+" "+form)
				break
			}
		}
	}
	return found
}

// TestPIISeedsAreDetected checks the test data against the redactor
// alone: every value of a detected kind is in a message, and redacting
// a message's subject and body leaves none of the values and counts the
// kinds of piiMail.counts. A failure here is a miss of the redactor or a
// mistake in the seeds, not a leak of the pipeline.
func TestPIISeedsAreDetected(t *testing.T) {
	if got, want := slices.Sorted(maps.Keys(piiPlaceholders)), detectedKinds(); !slices.Equal(got, want) {
		t.Fatalf("piiPlaceholders lists the kinds %v but the seeds cover %v: seed every kind of processors/redact_detectors.go", got, want)
	}
	for _, v := range piiValues {
		if !seededIn(v) {
			t.Errorf("%s value %q is in no test message", v.kind, v.text)
		}
	}
	for _, m := range piiMails {
		text := m.subject + "\n" + m.body
		redacted, counts := processors.RedactText(text)
		for _, leak := range findLeaks(redacted) {
			t.Errorf("message %s: redacted text still contains %s:\n%s", m.id, leak, redacted)
		}
		want := map[string]int{}
		for kind, n := range m.counts {
			want[kind] = int(n)
		}
		if !maps.Equal(counts, want) {
			t.Errorf("message %s: RedactText counts %v, expected %v", m.id, counts, want)
		}
	}
}

// detectedKinds returns the sorted redactor kinds that piiValues seeds.
func detectedKinds() []string {
	var kinds []string
	for _, v := range piiValues {
		if _, ok := piiPlaceholders[v.kind]; ok && !slices.Contains(kinds, v.kind) {
			kinds = append(kinds, v.kind)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// seededIn reports whether v is in the subject, body or From header of a
// test message.
func seededIn(v piiValue) bool {
	for _, m := range piiMails {
		if strings.Contains(m.subject, v.text) || strings.Contains(m.body, v.text) ||
			m.fromName == v.text || m.fromAddress == v.text {
			return true
		}
	}
	return false
}
