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
	Name    string
	Address string
}

// Header is one header field as it appeared in the message, decoded to
// UTF-8. Repeated fields stay separate and in their original order.
type Header struct {
	Name  string
	Value string
}

// Envelope is the SMTP transaction that delivered a message, kept apart from
// the header addresses because the two often differ (Bcc, lists, forwards).
type Envelope struct {
	MailFrom   string   // MAIL FROM; empty for a null return path (<>)
	RcptTo     []string // RCPT TO, in order
	Helo       string   // HELO or EHLO argument of the client
	RemoteAddr string   // client IP and port
	TLS        bool     // whether the session ran over TLS
}

// Attachment is the metadata of one MIME leaf part that is not inline body
// text. The bytes themselves live in object storage under StorageKey.
type Attachment struct {
	Filename    string // decoded (RFC 2047 and RFC 2231); empty when the part names none
	ContentType string // media type without parameters, lower case
	Size        int64  // decoded size in bytes
	ContentID   string // without angle brackets; empty when absent
	Inline      bool   // Content-Disposition inline, or referenced by Content-ID
	SHA256      string // hex digest of the decoded bytes
	StorageKey  string // object storage key; empty when not stored
	Part        string // MIME part path such as "2.1"; locates the part in the raw message
	Text        string // for an attached message/rfc822: its own text body; empty otherwise
}

// Auth holds the authentication and spam verdicts reported for a message.
// Each is a lower-case word such as "pass", "fail", "softfail", "neutral",
// "none" or "" when unknown.
type Auth struct {
	SPF   string
	DKIM  string
	DMARC string
	Spam  string // "spam", "ham" or "" when unknown
}

// BlobRef points at bytes kept in object storage.
type BlobRef struct {
	Key    string
	SHA256 string // hex digest of the stored bytes
	Size   int64
}

// InboundEmail is one inbound message parsed once into typed fields. It is
// the value of mailtriage.inbound.v1, keyed by Tenant + "/" + MessageID.
type InboundEmail struct {
	Tenant      string
	MessageID   string // without angle brackets; synthesized from the raw bytes when absent
	ThreadID    string // thread ID given by a parsing service; empty otherwise
	Source      string // one of the Source constants
	ReceivedAt  time.Time
	Date        time.Time // Date header; zero when absent or unparsable
	Envelope    *Envelope // nil when the message did not arrive over SMTP
	From        *Address  // nil when the message has no From
	To          []Address
	Cc          []Address
	ReplyTo     []Address
	Subject     string
	Text        string // all inline text parts, in order; derived from HTML when only HTML exists
	HTML        string // all inline HTML parts, in order
	ReplyText   string // Text without quoted replies and signature
	Headers     []Header
	InReplyTo   []string // message IDs without angle brackets
	References  []string // message IDs without angle brackets, oldest first
	Attachments []Attachment
	Auth        Auth
	Raw         *BlobRef         // the stored raw MIME; nil for JSON webhooks without one
	Warnings    []string         // what the parser had to repair or could not read
	PII         map[string]int32 // redactions by kind, filled by the redact processor
}

// Key returns the Kafka record key of the message: tenant/messageId.
func (e *InboundEmail) Key() string { return e.Tenant + "/" + e.MessageID }

// LabelScore is one label of a model prediction with its probability.
type LabelScore struct {
	Label       string
	Probability float64
}

// Reason says why a message was routed where it was.
type Reason struct {
	Kind           string // ReasonRule, ReasonModel or ReasonFallback
	RuleID         string // set when Kind is ReasonRule
	RulesetVersion string // version of the ruleset in force
	ModelVersion   string // set when Kind is ReasonModel
	TopLabels      []LabelScore
	Threshold      float64 // model confidence threshold in force; 0 without a model
	Detail         string  // a short human-readable explanation
}

// TicketCommand asks the ticket store to create a ticket or append a
// message to one. EventID is its idempotency key.
type TicketCommand struct {
	EventID       string
	Tenant        string
	Action        string // "create" or "append"
	TicketRef     string
	MessageID     string
	Queue         string
	Priority      string // "low", "normal", "high" or "urgent"
	Tags          []string
	Requester     Address
	Recipients    []Address
	Subject       string // redacted
	Text          string // redacted
	ReplyText     string // redacted
	InReplyTo     []string
	Attachments   []Attachment
	Raw           *BlobRef
	ReceivedAt    time.Time
	Reason        Reason
	SkipAutoReply bool
}

// Notification is a redacted notice for a chat channel such as Slack.
type Notification struct {
	EventID      string
	Tenant       string
	Channel      string // "slack"
	TicketRef    string
	Queue        string
	Priority     string
	SenderDomain string
	Subject      string // redacted
	Excerpt      string // redacted, at most a few hundred characters
	ReceivedAt   time.Time
}

// DecisionEvent is one row of analytics: what was decided for a message and
// why. Duplicates get one too, with Duplicate set.
type DecisionEvent struct {
	EventID      string
	Tenant       string
	MessageID    string
	TicketRef    string
	Queue        string
	Priority     string
	Tags         []string
	Reason       Reason
	Duplicate    bool
	FollowUp     bool
	PII          map[string]int32
	Source       string
	SenderDomain string
	Subject      string // redacted
	Attachments  int32
	Warnings     int32
	ReceivedAt   time.Time
	DecidedAt    time.Time
}

// DeadLetter is a record that a stage could not process, with enough context
// to find, fix and replay it.
type DeadLetter struct {
	EventID         string
	Tenant          string // empty when not known
	Stage           string // "ingress", "dedupe", "redact", "classify", "route", ...
	Error           string
	SourceTopic     string
	SourcePartition int32
	SourceOffset    int64
	Attempts        int32
	TraceID         string
	FailedAt        time.Time
	Key             []byte // the source record key
	Payload         []byte // the source record value, or the raw MIME when parsing failed
	Raw             *BlobRef
}
