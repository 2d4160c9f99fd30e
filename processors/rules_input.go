package processors

import (
	"slices"
	"strings"

	"mailtriage/schemas"
)

// matchInput is the part of a message that conditions look at, prepared
// once per message.
type matchInput struct {
	aliases      map[string]bool // local parts of To, Cc and RCPT TO, without +subaddress, lower case
	subaddresses map[string]bool // the +subaddress parts of the same addresses, lower case
	senders      map[string]bool // local parts of From and MAIL FROM, without +subaddress, lower case
	// senderAddresses holds the From and MAIL FROM addresses in lower case,
	// each as written and without its +subaddress.
	senderAddresses map[string]bool
	senderDomains   []string // domains of From and MAIL FROM, lower case
	subject         string
	body            string // reply text, or the whole text when there is none
	headers         []schemas.Header
	attachments     []schemas.Attachment
	auth            schemas.Auth

	// language is the detected language of subject and body, filled by
	// languageOf on the first language condition.
	language         string
	languageDetected bool

	keywords *keywordSet // the ruleset's keyword automaton
	cache    *foldCache  // folded texts of the message; nil folds anew
	// keywordStarts holds the output of keywords.scan for the subject and
	// the body, filled on first use.
	keywordStarts [2][]int
}

// keywordStartsIn returns the first match of every keyword of the ruleset
// in one text, scanning the text on the first call: in.subject for
// fieldSubject and in.body for fieldBody.
func (in *matchInput) keywordStartsIn(field textField) []int {
	i, text := 0, in.subject
	if field == fieldBody {
		i, text = 1, in.body
	}
	if in.keywordStarts[i] == nil {
		in.keywordStarts[i] = in.keywords.scan(in.cache.fold(text))
	}
	return in.keywordStarts[i]
}

func newMatchInput(e *schemas.InboundEmail) *matchInput {
	in := &matchInput{
		aliases:      map[string]bool{},
		subaddresses: map[string]bool{},
		senders:      map[string]bool{},

		senderAddresses: map[string]bool{},
		subject:         e.Subject,
		body:            e.ReplyText,
		headers:         e.Headers,
		attachments:     e.Attachments,
		auth:            e.Auth,
	}
	if strings.TrimSpace(in.body) == "" {
		in.body = e.Text
	}

	recipients := make([]string, 0, len(e.To)+len(e.Cc))
	for _, a := range e.To {
		recipients = append(recipients, a.Address)
	}
	for _, a := range e.Cc {
		recipients = append(recipients, a.Address)
	}
	if e.Envelope != nil {
		recipients = append(recipients, e.Envelope.RcptTo...)
	}
	for _, addr := range recipients {
		alias, sub := splitLocalPart(addr)
		if alias != "" {
			in.aliases[alias] = true
		}
		if sub != "" {
			in.subaddresses[sub] = true
		}
	}

	var senders []string
	if e.From != nil {
		senders = append(senders, e.From.Address)
	}
	if e.Envelope != nil {
		senders = append(senders, e.Envelope.MailFrom)
	}
	for _, addr := range senders {
		in.addSender(addr)
	}
	return in
}

// addSender adds one From or MAIL FROM address to the sender sets.
func (in *matchInput) addSender(addr string) {
	local, _ := splitLocalPart(addr)
	if local == "" {
		return
	}
	in.senders[local] = true

	full := strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
	domain := strings.TrimSuffix(full[strings.LastIndexByte(full, '@')+1:], ".")
	in.senderAddresses[full] = true
	in.senderAddresses[local+"@"+domain] = true
	if domain != "" && !slices.Contains(in.senderDomains, domain) {
		in.senderDomains = append(in.senderDomains, domain)
	}
}

// languageOf returns the language of the subject and body as detected by
// detectLanguage, detecting it on the first call only.
func (in *matchInput) languageOf() string {
	if !in.languageDetected {
		in.language = detectLanguage(in.subject, in.body)
		in.languageDetected = true
	}
	return in.language
}

// splitLocalPart returns the lower-case local part of an address without
// its +subaddress, and the subaddress: "Support+Billing@x.example" gives
// "support" and "billing".
func splitLocalPart(addr string) (alias, subaddress string) {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "", ""
	}
	local := strings.ToLower(addr[:at])
	alias, subaddress, _ = strings.Cut(local, "+")
	return alias, subaddress
}
