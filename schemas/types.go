// Package schemas holds the Avro contracts that every mailtriage topic
// carries: the embedded .avsc files, the Go types that mirror them and the
// codecs that move between the two in Avro single-object encoding.
package schemas

import "time"

// Source values for InboundEmail.Source.
const (
	SourceWebhookJSON = "webhook-json"
	SourceWebhookRaw  = "webhook-raw"
	SourceSMTP        = "smtp"
	SourceLMTP        = "lmtp"
	SourcePoller      = "poller"
	SourceImport      = "import"
)

// Reason kinds for Reason.Kind.
const (
	ReasonRule     = "rule"
	ReasonModel    = "model"
	ReasonFallback = "fallback"
)

// Address is one mailbox: a display name (decoded to UTF-8, possibly empty)
// and the address itself.
type Address struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Header is one header field as it appeared in the message, decoded to
// UTF-8. Repeated fields stay separate and in their original order.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Envelope is the SMTP transaction that delivered a message, kept apart from
// the header addresses because the two often differ (Bcc, lists, forwards).
type Envelope struct {
	MailFrom   string   `json:"mailFrom"`   // MAIL FROM; empty for a null return path (<>)
	RcptTo     []string `json:"rcptTo"`     // RCPT TO, in order
	Helo       string   `json:"helo"`       // HELO or EHLO argument of the client
	RemoteAddr string   `json:"remoteAddr"` // client IP and port
	TLS        bool     `json:"tls"`        // whether the session ran over TLS
}

// Attachment is the metadata of one MIME leaf part that is not inline body
// text. The bytes themselves live in object storage under StorageKey.
type Attachment struct {
	Filename    string `json:"filename"`    // decoded (RFC 2047 and RFC 2231); empty when the part names none
	ContentType string `json:"contentType"` // media type without parameters, lower case
	Size        int64  `json:"size"`        // decoded size in bytes
	ContentID   string `json:"contentId"`   // without angle brackets; empty when absent
	Inline      bool   `json:"inline"`      // Content-Disposition inline, or referenced by Content-ID
	SHA256      string `json:"sha256"`      // hex digest of the decoded bytes
	StorageKey  string `json:"storageKey"`  // object storage key; empty when not stored
	Part        string `json:"part"`        // MIME part path such as "2.1"; locates the part in the raw message
	Text        string `json:"text"`        // for an attached message/rfc822: its own text body; empty otherwise
	DownloadURL string `json:"downloadUrl"` // short-lived presigned URL of the stored bytes; empty when the store cannot presign
}

// Auth holds the authentication and spam verdicts reported for a message.
// Each is a lower-case word such as "pass", "fail", "softfail", "neutral",
// "none" or "" when unknown.
type Auth struct {
	SPF   string `json:"spf"`
	DKIM  string `json:"dkim"`
	DMARC string `json:"dmarc"`
	Spam  string `json:"spam"` // "spam", "ham" or "" when unknown
}

// BlobRef points at bytes kept in object storage.
type BlobRef struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"` // hex digest of the stored bytes
	Size   int64  `json:"size"`
}

// InboundEmail is one inbound message parsed once into typed fields. It is
// the value of mailtriage.inbound.v1, keyed by Tenant + "/" + MessageID.
type InboundEmail struct {
	Tenant      string           `json:"tenant"`
	MessageID   string           `json:"messageId"` // without angle brackets; synthesized from the raw bytes when absent
	ThreadID    string           `json:"threadId"`  // thread ID given by a parsing service; empty otherwise
	Source      string           `json:"source"`    // one of the Source constants
	ReceivedAt  time.Time        `json:"receivedAt"`
	Date        time.Time        `json:"date,omitzero"` // Date header; zero when absent or unparsable
	Envelope    *Envelope        `json:"envelope"`      // nil when the message did not arrive over SMTP
	From        *Address         `json:"from"`          // nil when the message has no From
	To          []Address        `json:"to"`
	Cc          []Address        `json:"cc"`
	ReplyTo     []Address        `json:"replyTo"`
	Subject     string           `json:"subject"`
	Text        string           `json:"text"`      // all inline text parts, in order; derived from HTML when only HTML exists
	HTML        string           `json:"html"`      // all inline HTML parts, in order
	ReplyText   string           `json:"replyText"` // Text without quoted replies and signature
	Headers     []Header         `json:"headers"`
	InReplyTo   []string         `json:"inReplyTo"`  // message IDs without angle brackets
	References  []string         `json:"references"` // message IDs without angle brackets, oldest first
	Attachments []Attachment     `json:"attachments"`
	Auth        Auth             `json:"auth"`
	Raw         *BlobRef         `json:"raw"`      // the stored raw MIME; nil for JSON webhooks without one
	Warnings    []string         `json:"warnings"` // what the parser had to repair or could not read
	PII         map[string]int32 `json:"pii"`      // redactions by kind, filled by the redact processor
}

// Key returns the Kafka record key of the message: tenant/messageId.
func (e *InboundEmail) Key() string { return e.Tenant + "/" + e.MessageID }

// LabelScore is one label of a model prediction with its probability.
type LabelScore struct {
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

// Reason says why a message was routed where it was.
type Reason struct {
	Kind           string       `json:"kind"`           // ReasonRule, ReasonModel or ReasonFallback
	RuleID         string       `json:"ruleId"`         // set when Kind is ReasonRule
	RulesetVersion string       `json:"rulesetVersion"` // version of the ruleset in force
	ModelVersion   string       `json:"modelVersion"`   // set when Kind is ReasonModel
	TopLabels      []LabelScore `json:"topLabels"`
	Threshold      float64      `json:"threshold"` // model confidence threshold in force; 0 without a model
	Detail         string       `json:"detail"`    // a short human-readable explanation
}

// TicketCommand asks the ticket store to create a ticket or append a
// message to one. EventID is its idempotency key.
type TicketCommand struct {
	EventID       string       `json:"eventId"`
	Tenant        string       `json:"tenant"`
	Action        string       `json:"action"` // "create" or "append"
	TicketRef     string       `json:"ticketRef"`
	MessageID     string       `json:"messageId"`
	Queue         string       `json:"queue"`
	Priority      string       `json:"priority"` // "low", "normal", "high" or "urgent"
	Tags          []string     `json:"tags"`
	Requester     Address      `json:"requester"`
	Recipients    []Address    `json:"recipients"`
	Subject       string       `json:"subject"`   // redacted
	Text          string       `json:"text"`      // redacted
	ReplyText     string       `json:"replyText"` // redacted
	InReplyTo     []string     `json:"inReplyTo"`
	Attachments   []Attachment `json:"attachments"`
	Raw           *BlobRef     `json:"raw"`
	ReceivedAt    time.Time    `json:"receivedAt"`
	Reason        Reason       `json:"reason"`
	SkipAutoReply bool         `json:"skipAutoReply"`
	// LinkedTicketRef is the reference of the earlier ticket that a new
	// ticket is linked to, or "" (added in version 3 of the contract).
	LinkedTicketRef string `json:"linkedTicketRef"`
}

// Notification is a redacted notice for a chat channel such as Slack.
type Notification struct {
	EventID      string    `json:"eventId"`
	Tenant       string    `json:"tenant"`
	Channel      string    `json:"channel"` // "slack"
	TicketRef    string    `json:"ticketRef"`
	Queue        string    `json:"queue"`
	Priority     string    `json:"priority"`
	SenderDomain string    `json:"senderDomain"`
	Subject      string    `json:"subject"` // redacted
	Excerpt      string    `json:"excerpt"` // redacted, at most a few hundred characters
	ReceivedAt   time.Time `json:"receivedAt"`
}

// DecisionEvent is one row of analytics: what was decided for a message and
// why. Duplicates get one too, with Duplicate set.
type DecisionEvent struct {
	EventID      string           `json:"eventId"`
	Tenant       string           `json:"tenant"`
	MessageID    string           `json:"messageId"`
	TicketRef    string           `json:"ticketRef"`
	Queue        string           `json:"queue"`
	Priority     string           `json:"priority"`
	Tags         []string         `json:"tags"`
	Reason       Reason           `json:"reason"`
	Duplicate    bool             `json:"duplicate"`
	FollowUp     bool             `json:"followUp"`
	PII          map[string]int32 `json:"pii"`
	Source       string           `json:"source"`
	SenderDomain string           `json:"senderDomain"`
	Subject      string           `json:"subject"` // redacted
	Attachments  int32            `json:"attachments"`
	Warnings     int32            `json:"warnings"`
	ReceivedAt   time.Time        `json:"receivedAt"`
	DecidedAt    time.Time        `json:"decidedAt"`
}

// DeadLetter is a record that a stage could not process, with enough context
// to find, fix and replay it.
type DeadLetter struct {
	EventID         string    `json:"eventId"`
	Tenant          string    `json:"tenant"` // empty when not known
	Stage           string    `json:"stage"`  // "ingress", "dedupe", "redact", "classify", "route", ...
	Error           string    `json:"error"`
	SourceTopic     string    `json:"sourceTopic"`
	SourcePartition int32     `json:"sourcePartition"`
	SourceOffset    int64     `json:"sourceOffset"`
	Attempts        int32     `json:"attempts"`
	TraceID         string    `json:"traceId"`
	FailedAt        time.Time `json:"failedAt"`
	Key             []byte    `json:"key"`     // the source record key
	Payload         []byte    `json:"payload"` // the source record value, or the raw MIME when parsing failed
	Raw             *BlobRef  `json:"raw"`
}
