package teams

import (
	"strings"
	"unicode/utf8"

	"mailtriage/processors"
	"mailtriage/schemas"
)

// Length limits of the posted text, in runes.
const (
	maxSubjectRunes = 250
	maxExcerptRunes = processors.ExcerptMaxRunes
	maxFactRunes    = 150
)

// Message is the JSON body of one webhook post: a message with one
// Adaptive Card attachment.
type Message struct {
	Type        string       `json:"type"` // "message"
	Attachments []Attachment `json:"attachments"`
}

// Attachment carries the card.
type Attachment struct {
	ContentType string  `json:"contentType"` // "application/vnd.microsoft.card.adaptive"
	ContentURL  *string `json:"contentUrl"`  // always null
	Content     Card    `json:"content"`
}

// Card is an Adaptive Card (schema version 1.4).
type Card struct {
	Schema  string    `json:"$schema"`
	Type    string    `json:"type"` // "AdaptiveCard"
	Version string    `json:"version"`
	ID      string    `json:"id,omitempty"`
	Body    []Element `json:"body"`
	// FallbackText is shown by clients that cannot render the card.
	FallbackText string `json:"fallbackText"`
}

// Element is a TextBlock or a FactSet.
type Element struct {
	Type   string `json:"type"`
	Text   string `json:"text,omitempty"`
	Weight string `json:"weight,omitempty"`
	Size   string `json:"size,omitempty"`
	Wrap   bool   `json:"wrap,omitempty"`
	Facts  []Fact `json:"facts,omitempty"`
}

// Fact is one title and value of a FactSet.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// NewMessage builds the webhook body of n. The card ID is the EventID, so
// that a capture server can match a post to its ledger entry. For ticket
// T-1 in queue billing, priority high, from example.com:
//
//	{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",
//	  "contentUrl":null,"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json",
//	  "type":"AdaptiveCard","version":"1.4","id":"<eventId>",
//	  "body":[{"type":"TextBlock","text":"<subject>","weight":"Bolder","size":"Medium","wrap":true},
//	          {"type":"TextBlock","text":"<excerpt>","wrap":true},
//	          {"type":"FactSet","facts":[{"title":"Sender domain","value":"example.com"},
//	            {"title":"Queue","value":"billing"},{"title":"Priority","value":"high"},
//	            {"title":"Ticket","value":"T-1"}]}],
//	  "fallbackText":"[high] billing T-1 from example.com: <subject>"}}]}
func NewMessage(n *schemas.Notification) Message {
	subject := shareable(n.Subject, maxSubjectRunes)
	if subject == "" {
		subject = "(no subject)"
	}
	excerpt := shareable(n.Excerpt, maxExcerptRunes)
	domain := factValue(senderDomain(n.SenderDomain))
	queue, priority, ticket := factValue(n.Queue), factValue(n.Priority), factValue(n.TicketRef)

	body := []Element{{Type: "TextBlock", Text: subject, Weight: "Bolder", Size: "Medium", Wrap: true}}
	if excerpt != "" {
		body = append(body, Element{Type: "TextBlock", Text: excerpt, Wrap: true})
	}
	body = append(body, Element{Type: "FactSet", Facts: []Fact{
		{Title: "Sender domain", Value: domain},
		{Title: "Queue", Value: queue},
		{Title: "Priority", Value: priority},
		{Title: "Ticket", Value: ticket},
	}})

	return Message{
		Type: "message",
		Attachments: []Attachment{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: Card{
				Schema:       "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:         "AdaptiveCard",
				Version:      "1.4",
				ID:           n.EventID,
				Body:         body,
				FallbackText: "[" + priority + "] " + queue + " " + ticket + " from " + domain + ": " + subject,
			},
		}},
	}
}

// shareable redacts s, folds white space, cuts it to maxRunes runes and
// escapes it for card Markdown.
func shareable(s string, maxRunes int) string {
	s, _ = processors.RedactText(s)
	s = strings.Join(strings.Fields(s), " ")
	return escapeMarkdown(cut(s, maxRunes))
}

// factValue prepares a short contract field; "-" stands for an empty one.
func factValue(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return escapeMarkdown(cut(s, maxFactRunes))
}

// senderDomain keeps only the part after the last '@'.
func senderDomain(s string) string {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		s = s[at+1:]
	}
	return s
}

// markdownEscaper puts a backslash before the characters of the Markdown
// subset that Adaptive Cards render: emphasis (* and _) and links ([ ] ( )).
//
// NOTE: the escapes were checked against the CommonMark rules only; how a
// given Teams client renders a backslash was not tested here.
var markdownEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`, `(`, `\(`, `)`, `\)`)

func escapeMarkdown(s string) string { return markdownEscaper.Replace(s) }

// cut shortens s to at most maxRunes runes, ending with "…" when cut.
func cut(s string, maxRunes int) string {
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	return string([]rune(s)[:maxRunes-1]) + "…"
}
