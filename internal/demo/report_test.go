package demo

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"mailtriage/schemas"
)

func tableLines(t *testing.T, r *Report) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	table, _, _ := strings.Cut(buf.String(), "\n\n")
	return strings.Split(table, "\n")
}

// columnStart returns the display column at which the field value starts
// in line, or -1.
func columnStart(line, value string) int {
	i := strings.Index(line, value)
	if i < 0 {
		return -1
	}
	return displayWidth(line[:i])
}

func TestShortenStartKeepsEnd(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		width int
		want  string
	}{
		{"fits", "a/b.eml", 10, "a/b.eml"},
		{"cut at slash", "mikel-mail/attachment_emails/attachment_content_disposition.eml", 56, "…/attachment_emails/attachment_content_disposition.eml"},
		{"base name alone too long", "dir/" + strings.Repeat("x", 60) + ".eml", 20, "…" + strings.Repeat("x", 15) + ".eml"},
		{"wide characters", "フォルダ/日本語.eml", 14, "…/日本語.eml"},
		{"wide character split", "フォルダ/日本語のファイル名.eml", 20, "…語のファイル名.eml"},
		{"line break", "a\nb.eml", 10, "a b.eml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shortenStart(tt.in, tt.width)
			if got != tt.want {
				t.Errorf("shortenStart(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
			}
			if w := displayWidth(got); w > tt.width {
				t.Errorf("shortenStart(%q, %d) is %d columns wide", tt.in, tt.width, w)
			}
		})
	}
}

func TestShortenEndCountsColumns(t *testing.T) {
	got := shortenEnd("APIのレート制限について、至急ご確認をお願いいたします", 20)
	if w := displayWidth(got); w > 20 || w < 19 {
		t.Errorf("shortenEnd to 20 columns = %q, %d columns wide", got, w)
	}
	if !strings.HasPrefix(got, "APIのレート") || !strings.HasSuffix(got, "…") {
		t.Errorf("shortenEnd = %q, want the start of the subject and an ellipsis", got)
	}
	if got := shortenEnd("a\x1b[31mred", 20); strings.ContainsRune(got, '\x1b') {
		t.Errorf("shortenEnd kept an escape character: %q", got)
	}
}

// Long names in one folder stay apart: the table keeps their ends.
func TestTableFileNamesDistinct(t *testing.T) {
	prefix := "mikel-mail/attachment_emails/attachment_"
	r := &Report{Rows: []Row{
		{File: prefix + "content_disposition.eml", SenderDomain: "example.com", Subject: "testing", Queue: "general", Priority: "normal", Reason: "fallback"},
		{File: prefix + "content_location.eml", SenderDomain: "example.com", Subject: "testing", Queue: "general", Priority: "normal", Reason: "fallback"},
	}}

	lines := tableLines(t, r)

	for i, end := range []string{"…/attachment_emails/attachment_content_disposition.eml", "…/attachment_emails/attachment_content_location.eml"} {
		if !strings.HasPrefix(lines[i+1], end+" ") {
			t.Errorf("line %q does not start with %q", lines[i+1], end)
		}
	}
}

func TestTableBlankFieldsShowDash(t *testing.T) {
	r := &Report{Rows: []Row{{File: "no-subject.eml", Queue: "general", Priority: "normal", Reason: "fallback", Subject: " \n "}}}

	lines := tableLines(t, r)

	fields := strings.Fields(lines[1])
	want := []string{"no-subject.eml", "-", "-", "general", "normal", "fallback", "no", "-"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Errorf("row fields = %q, want %q", fields, want)
	}
}

func TestTableDeadLetterReason(t *testing.T) {
	reason := "parse: not an email message: no header fields found in the first 14 bytes; import RFC 5322 messages (.eml), mbox files or Maildirs"
	r := &Report{Rows: []Row{
		{File: "a.eml", SenderDomain: "example.com", Subject: "Hello", Queue: "billing", Priority: "normal", Reason: "rule billing", PII: map[string]int32{"card": 1}},
		{File: "notes.txt", DeadLetter: reason},
	}}

	lines := tableLines(t, r)

	displayed := lines[2][strings.Index(lines[2], "parse: "):]
	if n := utf8.RuneCountInString(displayed); n != reasonWidth {
		t.Errorf("reason shows %d runes (%q), want the first %d", n, displayed, reasonWidth)
	}
	if !strings.HasPrefix(reason, strings.TrimSuffix(displayed, "…")) {
		t.Errorf("reason displayed as %q, want the start of %q", displayed, reason)
	}
	// The long reason ends its row, so the routed row keeps its columns
	// tight: DUPLICATE follows REASON after the gap.
	if !strings.Contains(lines[1], "rule billing  no ") {
		t.Errorf("routed row %q: the dead-letter reason widened its columns", lines[1])
	}
}

// Japanese subjects take two columns per character. Every row's QUEUE
// column starts at the same display column all the same.
func TestTableAlignsWideCharacters(t *testing.T) {
	r := &Report{Rows: []Row{
		{File: "general-japanese.eml", SenderDomain: "example.org", Subject: "APIのレート制限について", Queue: "q-one", Priority: "normal", Reason: "fallback"},
		{File: "billing.eml", SenderDomain: "example.net", Subject: "Charged twice", Queue: "q-two", Priority: "normal", Reason: "fallback"},
		{File: "long-japanese.eml", SenderDomain: "example.jp", Subject: "お問い合わせ：請求書の再発行と支払い方法の変更について", Queue: "q-three", Priority: "normal", Reason: "fallback"},
	}}

	lines := tableLines(t, r)

	header := columnStart(lines[0], "QUEUE")
	for i, queue := range []string{"q-one", "q-two", "q-three"} {
		if got := columnStart(lines[i+1], queue); got != header {
			t.Errorf("row %d: QUEUE value at column %d, header at %d:\n%s\n%s", i+1, got, header, lines[0], lines[i+1])
		}
	}
}

func TestDescribeReason(t *testing.T) {
	tests := []struct {
		name   string
		reason schemas.Reason
		want   string
	}{
		{"rule", schemas.Reason{Kind: schemas.ReasonRule, RuleID: "billing-address"}, "rule billing-address"},
		{"model", schemas.Reason{Kind: schemas.ReasonModel, ModelVersion: "2025-03-01-3fa2c9d1e0b4"}, "model 2025-03-01-3fa2c9d1e0b4"},
		{"fallback without a model", schemas.Reason{Kind: schemas.ReasonFallback}, "fallback"},
		{"fallback below the threshold", schemas.Reason{Kind: schemas.ReasonFallback, ModelVersion: "m1",
			TopLabels: []schemas.LabelScore{{Label: "refund", Probability: 0.4149}, {Label: "card_arrival", Probability: 0.3}}},
			"fallback (refund 0.41)"},
		{"long label", schemas.Reason{Kind: schemas.ReasonFallback,
			TopLabels: []schemas.LabelScore{{Label: "card_payment_not_recognised", Probability: 0.2}}},
			"fallback (card_payment_not_re… 0.20)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeReason(tt.reason); got != tt.want {
				t.Errorf("describeReason = %q, want %q", got, tt.want)
			}
		})
	}
}
