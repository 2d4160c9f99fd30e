package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNewMessageEscapesControlCharacters(t *testing.T) {
	n := testNotification("acme", 1)
	n.Subject = "<!channel> urgent & <https://evil.example|click here>"
	n.Queue = "<@U123>"
	msg := NewMessage(&n)

	body, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	var decoded Message
	if err := json.Unmarshal(body, &decoded); err != nil {
		t.Fatal(err)
	}
	all := decoded.Text + decoded.Blocks[0].Text.Text
	for _, f := range decoded.Blocks[0].Fields {
		all += f.Text
	}
	for _, raw := range []string{"<!channel>", "<https://", "<@U123>", " & "} {
		if strings.Contains(all, raw) {
			t.Errorf("message text contains %q unescaped: %s", raw, all)
		}
	}
	wantSubject := "*&lt;!channel&gt; urgent &amp; &lt;https://evil.example|click here&gt;*"
	if got := strings.SplitN(decoded.Blocks[0].Text.Text, "\n", 2)[0]; got != wantSubject {
		t.Errorf("subject line = %q, expected %q", got, wantSubject)
	}
}

func TestNewMessageRedactsFreeText(t *testing.T) {
	n := testNotification("acme", 1)
	n.Subject = "Call me, mail jane@customer.example"
	n.Excerpt = "My card 4111 1111 1111 1111 was charged twice"
	msg := NewMessage(&n)

	text := msg.Blocks[0].Text.Text
	for _, leaked := range []string{"jane@customer.example", "4111 1111 1111 1111"} {
		if strings.Contains(text, leaked) || strings.Contains(msg.Text, leaked) {
			t.Errorf("message contains %q: %q / %q", leaked, msg.Text, text)
		}
	}
	for _, placeholder := range []string{"[EMAIL]", "[CARD]"} {
		if !strings.Contains(text, placeholder) {
			t.Errorf("message text %q lacks the placeholder %s", text, placeholder)
		}
	}
}

func TestNewMessageLimitsAndEmptyFields(t *testing.T) {
	n := testNotification("acme", 1)
	n.Subject = strings.Repeat("long subject ", 100)
	n.Excerpt = strings.Repeat("word ", 200)
	n.Queue = ""
	n.Priority = "  "
	msg := NewMessage(&n)

	subjectLine := strings.SplitN(msg.Blocks[0].Text.Text, "\n", 2)[0]
	if got := utf8.RuneCountInString(subjectLine); got > maxSubjectRunes+2 { // the two '*'
		t.Errorf("subject line has %d runes, expected at most %d", got, maxSubjectRunes+2)
	}
	if !strings.HasSuffix(strings.TrimSuffix(subjectLine, "*"), "…") {
		t.Errorf("cut subject %q does not end with an ellipsis", subjectLine)
	}
	if got := utf8.RuneCountInString(msg.Blocks[0].Text.Text); got > 3000 {
		t.Errorf("section text has %d runes, over Slack's limit of 3000", got)
	}
	if got := msg.Blocks[0].Fields[1].Text; got != "*Queue*\n-" {
		t.Errorf("empty queue field = %q, expected a dash", got)
	}
	if got := msg.Blocks[0].Fields[2].Text; got != "*Priority*\n-" {
		t.Errorf("blank priority field = %q, expected a dash", got)
	}

	n.Subject, n.Excerpt = "", ""
	msg = NewMessage(&n)
	if got := msg.Blocks[0].Text.Text; got != "*(no subject)*" {
		t.Errorf("section text without subject and excerpt = %q, expected *(no subject)*", got)
	}
}
