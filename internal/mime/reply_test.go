package mime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const repliesDir = "../../../shared/corpus/replies"

func readReply(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repliesDir, name))
	if os.IsNotExist(err) {
		t.Skipf("reply sample %s not found; check out the shared folder beside the repository", name)
	}
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return string(raw)
}

func TestReplyTextCorpus(t *testing.T) {
	cases := []struct {
		file   string
		exp    string // exact reply text, when set
		has    []string
		hasNot []string
	}{
		{file: "email_1_3.txt", exp: "Oh thanks.\n\nHaving the function would be great.\n\n-Abhishek Kona"},
		{file: "email_iPhone.txt", exp: "Here is another email"},
		{file: "email_BlackBerry.txt", exp: "Here is another email"},
		{file: "email_multi_word_sent_from_my_mobile_device.txt", exp: "Here is another email"},
		{file: "email_sent_from_my_not_signature.txt", exp: "Here is another email\n\nSent from my desk, is much easier then my mobile phone."},
		{file: "correct_sig.txt", exp: "this is an email with a correct -- signature."},
		{file: "email_sig_delimiter_in_middle_of_line.txt", has: []string{"And here is a fix -- this is not a signature.", "kthxbai"}},
		{file: "email_one_is_not_on.txt", has: []string{"One outstanding question I had:", "Locally (on development), when I run..."}, hasNot: []string{"Dave Tapley wrote", "The good news"}},
		{file: "greedy_on.txt", has: []string{"On your remote host you can run:", "the tunnel is not working."}, hasNot: []string{"George Plymale wrote", "port forwarding"}},
		{file: "email_2_1.txt", exp: "Outlook with a reply"},
		{file: "email_1_2.txt", has: []string{"You can list the keys for the bucket", "would do it."}, hasNot: []string{"Abhishek Kona wrote", "> Hi folks", "What is the best way"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got := replyText(readReply(t, c.file))
			if c.exp != "" && got != c.exp {
				t.Errorf("replyText = %q, expected %q", got, c.exp)
			}
			for _, want := range c.has {
				if !strings.Contains(got, want) {
					t.Errorf("replyText = %q, expected it to contain %q", got, want)
				}
			}
			for _, unwanted := range c.hasNot {
				if strings.Contains(got, unwanted) {
					t.Errorf("replyText = %q, expected %q stripped", got, unwanted)
				}
			}
		})
	}
}

func TestReplyTextLanguagesAndSeparators(t *testing.T) {
	cases := map[string]string{
		"Merci !\n\nLe lun. 3 juin 2024 à 10:00, Jean <j@x.fr> a écrit :\n> Bonjour":          "Merci !",
		"Danke\n\nAm 03.06.2024 um 10:00 schrieb Hans Meier <h@x.de>:\n> Hallo":               "Danke",
		"Gracias\n\nEl lun, 3 jun 2024 a las 10:00, Ana (<a@x.es>) escribió:\n> Hola":         "Gracias",
		"Спасибо\n\n3 июня 2024 г., в 10:00, Иван <i@x.ru> написал(а):\n> Привет":             "Спасибо",
		"Fixed.\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\nSubject: bug":         "Fixed.",
		"Fixed.\n\nFrom: Bob <b@x.com>\nSent: Monday, June 3, 2024\nTo: me\nSubject: bug":     "Fixed.",
		"Yes.\n\nOn Mon, Jun 3, 2024 at 10:00 AM Bob Example <\nbob@example.com> wrote:\n> q": "Yes.",
		"Thanks\n-- \nBob\nACME Corp": "Thanks",
	}
	for input, exp := range cases {
		if got := replyText(input); got != exp {
			t.Errorf("replyText(%q) = %q, expected %q", input, got, exp)
		}
	}
}
