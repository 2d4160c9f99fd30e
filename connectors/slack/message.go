package slack

import (
	"strings"
	"unicode/utf8"

	"mailtriage/processors"
	"mailtriage/schemas"
)

// Length limits applied to the posted text, in runes. Slack rejects a
// section text over 3000 characters and a field over 2000 (Block Kit
// reference, section block); these stay well below.
const (
	maxSubjectRunes = 250
	maxExcerptRunes = processors.ExcerptMaxRunes
	maxFieldRunes   = 150
)

// Message is the JSON body of one incoming-webhook post.
type Message struct {
	// Text is the fallback shown in notifications and by clients that do
	// not render blocks.
	Text        string  `json:"text"`
	Blocks      []Block `json:"blocks"`
	UnfurlLinks bool    `json:"unfurl_links"`
	UnfurlMedia bool    `json:"unfurl_media"`
}

// Block is a Block Kit section block.
type Block struct {
	Type    string       `json:"type"`
	BlockID string       `json:"block_id,omitempty"`
	Text    *TextObject  `json:"text,omitempty"`
	Fields  []TextObject `json:"fields,omitempty"`
}

// TextObject is a Block Kit text object.
type TextObject struct {
	Type string `json:"type"` // "mrkdwn"
	Text string `json:"text"`
}

// NewMessage builds the webhook body of n. The subject and excerpt are
// redacted again and every value is escaped for Slack's mrkdwn, so the
// message contains no address and no mention or link that the email
// supplied. The block ID is the EventID, which lets a capture server or a
// Slack admin match a post to its ledger entry.
//
// For a notification of ticket T-1 in queue billing, priority high, from
// example.com, the body is:
//
//	{"text":"[high] billing T-1 from example.com: <subject>",
//	 "blocks":[{"type":"section","block_id":"<eventId>",
//	   "text":{"type":"mrkdwn","text":"*<subject>*\n><excerpt>"},
//	   "fields":[{"type":"mrkdwn","text":"*Sender domain*\nexample.com"},
//	             {"type":"mrkdwn","text":"*Queue*\nbilling"},
//	             {"type":"mrkdwn","text":"*Priority*\nhigh"},
//	             {"type":"mrkdwn","text":"*Ticket*\nT-1"}]}],
//	 "unfurl_links":false,"unfurl_media":false}
func NewMessage(n *schemas.Notification) Message {
	subject := shareable(n.Subject, maxSubjectRunes)
	if subject == "" {
		subject = "(no subject)"
	}
	excerpt := shareable(n.Excerpt, maxExcerptRunes)
	domain := fieldValue(senderDomain(n.SenderDomain))
	queue := fieldValue(n.Queue)
	priority := fieldValue(n.Priority)
	ticket := fieldValue(n.TicketRef)

	body := "*" + subject + "*"
	if excerpt != "" {
		body += "\n>" + excerpt
	}

	return Message{
		Text: "[" + priority + "] " + queue + " " + ticket + " from " + domain + ": " + subject,
		Blocks: []Block{{
			Type:    "section",
			BlockID: n.EventID,
			Text:    &TextObject{Type: "mrkdwn", Text: body},
			Fields: []TextObject{
				{Type: "mrkdwn", Text: "*Sender domain*\n" + domain},
				{Type: "mrkdwn", Text: "*Queue*\n" + queue},
				{Type: "mrkdwn", Text: "*Priority*\n" + priority},
				{Type: "mrkdwn", Text: "*Ticket*\n" + ticket},
			},
		}},
	}
}

// shareable redacts s, folds white space, cuts it to maxRunes runes and
// escapes it for mrkdwn.
func shareable(s string, maxRunes int) string {
	s, _ = processors.RedactText(s)
	s = strings.Join(strings.Fields(s), " ")
	return escapeMrkdwn(cut(s, maxRunes))
}

// fieldValue prepares a short contract field such as the queue; "-" stands
// for an empty one.
func fieldValue(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return escapeMrkdwn(cut(s, maxFieldRunes))
}

// senderDomain keeps only the part after the last '@', in case a producer
// put a whole address in the domain field.
func senderDomain(s string) string {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		s = s[at+1:]
	}
	return s
}

// escapeMrkdwn escapes the three characters that Slack's message formatting
// treats as control characters, so that "<!channel>" or "<http://x|y>" in
// an email shows as typed instead of mentioning or linking.
func escapeMrkdwn(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cut shortens s to at most maxRunes runes, ending with "…" when cut.
func cut(s string, maxRunes int) string {
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	return string([]rune(s)[:maxRunes-1]) + "…"
}
