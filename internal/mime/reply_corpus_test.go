package mime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lines joins its arguments with newlines.
func lines(l ...string) string { return strings.Join(l, "\n") }

// replyCorpusExpected is the stripped reply of every file of the reply
// corpus, read by hand from each message. The corpus holds inputs only.
var replyCorpusExpected = map[string]string{
	"correct_sig.txt": "this is an email with a correct -- signature.",
	"email_1_1.txt": lines(
		"Hi folks",
		"",
		"What is the best way to clear a Riak bucket of all key, values after",
		"running a test?",
		"I am currently using the Java HTTP API.",
		"",
		"-Abhishek Kona"),
	"email_1_2.txt": lines(
		"Hi,",
		"",
		"You can list the keys for the bucket and call delete for each. Or if you",
		"put the keys (and kept track of them in your test) you can delete them",
		"one at a time (without incurring the cost of calling list first.)",
		"",
		"Something like:",
		"",
		`        String bucket = "my_bucket";`,
		"        BucketResponse bucketResponse = riakClient.listBucket(bucket);",
		"        RiakBucketInfo bucketInfo = bucketResponse.getBucketInfo();",
		"",
		"        for(String key : bucketInfo.getKeys()) {",
		"            riakClient.delete(bucket, key);",
		"        }",
		"",
		"",
		"would do it.",
		"",
		"See also",
		"",
		"http://wiki.basho.com/REST-API.html#Bucket-operations",
		"",
		"which says",
		"",
		`"At the moment there is no straightforward way to delete an entire`,
		"Bucket. There is, however, an open ticket for the feature. To delete all",
		"the keys in a bucket, you’ll need to delete them all individually.\""),
	"email_1_3.txt": "Oh thanks.\n\nHaving the function would be great.\n\n-Abhishek Kona",
	"email_1_4.txt": "Awesome! I haven't had another problem with it.",
	"email_1_5.txt": lines(
		"One: Here's what I've got.",
		"",
		"- This would be the first bullet point that wraps to the second line",
		"to the next",
		"- This is the second bullet point and it doesn't wrap",
		"- This is the third bullet point and I'm having trouble coming up with enough",
		"to say",
		"- This is the fourth bullet point",
		"",
		"Two:",
		"- Here is another bullet point",
		"- And another one",
		"",
		"This is a paragraph that talks about a bunch of stuff. It goes on and on",
		"for a while."),
	// The quote header is wrapped over three lines, above a "Sent from"
	// line of a device.
	"email_1_6.txt": "I get proper rendering as well.",
	// CRLF line ends, and "wrote:" right after the address.
	"email_1_7.txt": ":+1:",
	// Inline replies between quotes, under a header that starts the body.
	"email_1_8.txt":           "I will reply under this one\n\nand under this.",
	"email_2_1.txt":           "Outlook with a reply",
	"email_2_2.txt":           "Outlook with a reply directly above line",
	"email_2_3.txt":           "Outlook with a reply directly above line",
	"email_BlackBerry.txt":    "Here is another email",
	"email_iPhone.txt":        "Here is another email",
	"email_bullets.txt":       "test 2 this should list second\n\nand have spaces\n\nand retain this formatting\n\n\n   - how about bullets\n   - and another",
	"email_long_quote.txt":    "Hi folks\n\nWhat is the best way to clear a Riak bucket of all key, values after\nrunning a test?\nasdf\nA" + strings.Repeat(">", 707605) + "\nI am currently using the Java HTTP API.\n\n-Abhishek Kona",
	"email_one_is_not_on.txt": "Thank, this is really helpful.\n\nOne outstanding question I had:\n\nLocally (on development), when I run...",
	"email_multi_word_sent_from_my_mobile_device.txt": "Here is another email",
	"email_sent_from_my_not_signature.txt":            "Here is another email\n\nSent from my desk, is much easier then my mobile phone.",
	"email_sig_delimiter_in_middle_of_line.txt":       "Hi there!\n\nStuff happened.\n\nAnd here is a fix -- this is not a signature.\n\nkthxbai",
	"greedy_on.txt": lines(
		"On your remote host you can run:",
		"",
		"     telnet 127.0.0.1 52698",
		"",
		"This should connect to TextMate (on your Mac, via the tunnel). If that",
		"fails, the tunnel is not working."),
	"pathological.txt": "I think you're onto something. I will try to fix the problem as soon as I\nget back to a computer.",
}

// Every file of the corpus has an expected reply, and replyText returns
// it exactly.
func TestReplyTextWholeCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repliesDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no reply samples under %s; check out the shared folder beside the repository", repliesDir)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := replyCorpusExpected[name]
			if !ok {
				t.Fatalf("%s has no expected reply: add one to replyCorpusExpected", name)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			got := replyText(string(raw))
			if took := time.Since(began); took > 2*time.Second {
				t.Errorf("replyText took %v, expected well under 2s", took)
			}
			if got != want {
				t.Errorf("replyText = %s, expected %s", shorten(got), shorten(want))
			}
		})
	}
	if len(files) != len(replyCorpusExpected) {
		t.Errorf("corpus has %d files, replyCorpusExpected %d: keep them in step", len(files), len(replyCorpusExpected))
	}
}

// shorten quotes s, cutting a long middle so a failure stays readable.
func shorten(s string) string {
	if len(s) <= 400 {
		return strings.ReplaceAll(s, "\n", `\n`)
	}
	return strings.ReplaceAll(s[:200], "\n", `\n`) + "…" + strings.ReplaceAll(s[len(s)-200:], "\n", `\n`)
}

func TestReplyTextMoreLanguages(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"it", "Grazie, funziona.\n\nIl giorno lun 3 giu 2024 alle ore 10:00 Mario Rossi <m@x.it> ha scritto:\n> Ciao", "Grazie, funziona."},
		{"nl", "Dank je.\n\nOp ma 3 jun. 2024 om 10:00 schreef Jan de Vries <j@x.nl>:\n> Hoi", "Dank je."},
		{"pt", "Obrigado pela ajuda.\n\nEm seg., 3 de jun. de 2024 às 10:00, Ana <a@x.pt> escreveu:\n> Olá", "Obrigado pela ajuda."},
		{"sv", "Det fungerar nu.\n\nDen 3 juni 2024 10:00 skrev Sven <s@x.se>:\n> Hej", "Det fungerar nu."},
		{"fr wrapped", "Parfait.\n\nLe lun. 3 juin 2024 à 10:00, Jean Dupont\n<j@x.fr> a écrit :\n> Bonjour", "Parfait."},
		{"en wrapped three lines", "Works.\n\nOn Mon, Jun 3, 2024 at 10:00 AM, Bob Example\n<bob@example.com>\nwrote:\n\n> q", "Works."},
		{"outlook de", "Erledigt.\n\nVon: Hans Meier <h@x.de>\nGesendet: Montag, 3. Juni 2024 10:00\nAn: Support\nBetreff: Frage", "Erledigt."},
		{"outlook fr", "C'est fait.\n\nDe : Jean <j@x.fr>\nEnvoyé : lundi 3 juin 2024 10:00\nÀ : Support\nObjet : Question", "C'est fait."},
		{"outlook es", "Listo.\n\nDe: Ana <a@x.es>\nEnviado el: lunes, 3 de junio de 2024 10:00\nPara: Soporte\nAsunto: Pregunta", "Listo."},
		{"outlook pt", "Feito.\n\nDe: Ana <a@x.pt>\nEnviada em: segunda-feira, 3 de junho de 2024 10:00\nPara: Suporte", "Feito."},
		{"outlook sv", "Klart.\n\nFrån: Sven <s@x.se>\nSkickat: den 3 juni 2024 10:00\nTill: Support", "Klart."},
		{"outlook nl", "Gedaan.\n\nVan: Jan <j@x.nl>\nVerzonden: maandag 3 juni 2024 10:00\nAan: Support", "Gedaan."},
		{"outlook it", "Fatto.\n\nDa: Mario <m@x.it>\nInviato: lunedì 3 giugno 2024 10:00\nA: Supporto", "Fatto."},
		{"original message sv", "Klart.\n\n-----Ursprungligt meddelande-----\nFrån: Sven", "Klart."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := replyText(c.in); got != c.want {
				t.Errorf("replyText = %q, expected %q", got, c.want)
			}
		})
	}
}

func TestReplyTextSignOffs(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"name after regards", "Please reset my password.\n\nBest regards,\nAlice Example\nACME Corp\n+1 555 0100", "Please reset my password."},
		{"german", "Bitte um Rückruf.\n\nMit freundlichen Grüßen\nHans Meier", "Bitte um Rückruf."},
		{"french", "Merci de votre aide.\n\nCordialement,\nJean", "Merci de votre aide."},
		{"swedish", "Fakturan saknas.\n\nMed vänliga hälsningar\nSven", "Fakturan saknas."},
		{"thanks alone is the reply", "Thanks!", "Thanks!"},
		{"thanks then a sentence", "It works.\n\nThanks,\nbut one more question: can I export the invoices as a CSV file from the dashboard?", "It works.\n\nThanks,\nbut one more question: can I export the invoices as a CSV file from the dashboard?"},
		{"thanks inside a sentence", "Thanks for the fix, it works now.", "Thanks for the fix, it works now."},
		{"long block after sign-off", "Hi.\n\nRegards,\na\nb\nc\nd\ne", "Hi.\n\nRegards,\na\nb\nc\nd\ne"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := replyText(c.in); got != c.want {
				t.Errorf("replyText = %q, expected %q", got, c.want)
			}
		})
	}
}
