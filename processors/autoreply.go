package processors

import (
	"context"
	"mime"
	"strings"

	"mailtriage/schemas"
)

// AutoReplyLoopHeader is the header that mailtriage adds to every message
// it sends, with the sending tenant as the value. The guard withholds an
// acknowledgement from any message that carries it, whatever the tenant,
// so two mailtriage installations cannot answer each other.
const AutoReplyLoopHeader = "X-Mailtriage-Loop"

// AutoReplySuppressedTagPrefix starts the tag that the guard adds to a
// message it withholds an acknowledgement from, followed by the reason
// code, such as "autoreply:suppressed:auto_submitted". The tag reaches the
// DecisionEvent on the analytics topic and the ticket.
const AutoReplySuppressedTagPrefix = "autoreply:suppressed:"

// Reason codes of a withheld acknowledgement, in the order the guard
// checks them. The first that applies is the one recorded.
const (
	// SuppressAutoSubmitted: an Auto-Submitted header with a value other
	// than "no" (RFC 3834), such as auto-replied or auto-generated.
	SuppressAutoSubmitted = "auto_submitted"
	// SuppressLoopMarker: the message carries AutoReplyLoopHeader, so a
	// mailtriage installation sent it.
	SuppressLoopMarker = "loop_marker"
	// SuppressXLoop: an X-Loop header, which list managers and
	// auto-responders add to stop loops.
	SuppressXLoop = "x_loop"
	// SuppressResponseSuppress: X-Auto-Response-Suppress lists All,
	// AutoReply or OOF (Microsoft's MS-OXCMAIL header).
	SuppressResponseSuppress = "auto_response_suppress"
	// SuppressPrecedence: Precedence is bulk, junk, list or auto_reply.
	SuppressPrecedence = "precedence"
	// SuppressListHeader: a List-Id or List-Unsubscribe header, the marks
	// of a mailing list or newsletter.
	SuppressListHeader = "list_header"
	// SuppressReport: a delivery status notification or read receipt
	// (multipart/report, RFC 6522).
	SuppressReport = "report"
	// SuppressNullReturnPath: the envelope sender (MAIL FROM) or the
	// Return-Path header is empty (<>), the mark of a bounce or of another
	// automatic reply.
	SuppressNullReturnPath = "null_return_path"
	// SuppressSystemSender: the sender or reply address is mailer-daemon
	// or postmaster.
	SuppressSystemSender = "system_sender"
	// SuppressNoReplySender: the sender or reply address is a no-reply
	// address such as noreply@, no-reply@ or do-not-reply@.
	SuppressNoReplySender = "noreply_sender"
	// SuppressAuthFailed: SPF, DKIM or DMARC reported "fail", so the
	// sender address may be forged and the reply would go to a victim.
	SuppressAuthFailed = "auth_failed"
	// SuppressSpam: the spam verdict is "spam".
	SuppressSpam = "spam"
	// SuppressFollowUp: the message is appended to an existing ticket,
	// which got its acknowledgement when it was created.
	SuppressFollowUp = "follow_up"
	// SuppressRule: the matching rule sets skip_auto_reply.
	SuppressRule = "rule"
	// SuppressNoRecipient: neither Reply-To nor From holds an address to
	// reply to.
	SuppressNoRecipient = "no_recipient"
)

// autoReplyChecks are the guard's checks in the order the reason codes
// are listed.
var autoReplyChecks = []struct {
	reason  string
	applies func(m *Message) bool
}{
	{SuppressAutoSubmitted, autoSubmitted},
	{SuppressLoopMarker, func(m *Message) bool { return hasHeader(&m.Email, AutoReplyLoopHeader) }},
	{SuppressXLoop, func(m *Message) bool { return hasHeader(&m.Email, "X-Loop") }},
	{SuppressResponseSuppress, responseSuppressed},
	{SuppressPrecedence, bulkPrecedence},
	{SuppressListHeader, func(m *Message) bool {
		return hasHeader(&m.Email, "List-Id") || hasHeader(&m.Email, "List-Unsubscribe")
	}},
	{SuppressReport, isReport},
	{SuppressNullReturnPath, nullReturnPath},
	{SuppressSystemSender, func(m *Message) bool { return anySenderLocalPart(m, isSystemLocalPart) }},
	{SuppressNoReplySender, func(m *Message) bool { return anySenderLocalPart(m, isNoReplyLocalPart) }},
	{SuppressAuthFailed, authFailed},
	{SuppressSpam, func(m *Message) bool { return strings.EqualFold(strings.TrimSpace(m.Email.Auth.Spam), "spam") }},
	{SuppressFollowUp, func(m *Message) bool { return m.Decision.FollowUp }},
	{SuppressRule, func(m *Message) bool { return m.Decision.SkipAutoReply }},
	{SuppressNoRecipient, func(m *Message) bool { return AutoReplyRecipient(&m.Email) == nil }},
}

// AutoReplyGuard is the last stage of the chain. It decides whether a
// message gets an automatic acknowledgement, from the message alone and
// the decision the earlier stages reached. When it does, Decision.AutoReply
// is set and Outputs emits an AutoReply command. When it does not, the
// message gets the tag AutoReplySuppressedTagPrefix + reason.
//
// The guard holds no state. The checks that need counts across messages
// (one reply per sender per day, caps per ticket and tenant) and the
// suppression list run in the SMTP sink, whose input is keyed by
// recipient, inside its PostgreSQL transaction.
type AutoReplyGuard struct{}

// NewAutoReplyGuard returns the guard.
func NewAutoReplyGuard() *AutoReplyGuard { return &AutoReplyGuard{} }

// Name returns "autoreply".
func (g *AutoReplyGuard) Name() string { return "autoreply" }

// Process sets m.Decision.AutoReply, or tags m with the reason the
// acknowledgement is withheld. It never fails and never stops the chain.
func (g *AutoReplyGuard) Process(_ context.Context, m *Message) (Result, error) {
	reason := AutoReplySuppression(m)
	m.Decision.AutoReply = reason == ""
	if reason != "" {
		m.Decision.Tags = append(m.Decision.Tags, AutoReplySuppressedTagPrefix+reason)
	}
	return Continue, nil
}

// AutoReplySuppression returns the reason code of the first check that
// withholds an acknowledgement from m, or "" when m gets one.
func AutoReplySuppression(m *Message) string {
	for _, check := range autoReplyChecks {
		if check.applies(m) {
			return check.reason
		}
	}
	return ""
}

// AutoReplyRecipient returns the address an acknowledgement of e goes to:
// the first Reply-To mailbox with an address, or else From. It returns nil
// when neither has one.
//
// NOTE: RFC 3834 section 4 recommends the Return-Path for automatic
// responses. A ticket acknowledgement answers the person, as an agent's
// reply would, so it goes where a human reply goes. The null return path
// check still keeps it from answering bounces.
func AutoReplyRecipient(e *schemas.InboundEmail) *schemas.Address {
	for i := range e.ReplyTo {
		if strings.Contains(e.ReplyTo[i].Address, "@") {
			return &e.ReplyTo[i]
		}
	}
	if e.From != nil && strings.Contains(e.From.Address, "@") {
		return e.From
	}
	return nil
}

// headerValues returns the values of every header field named name,
// compared without regard to case, in order.
func headerValues(e *schemas.InboundEmail, name string) []string {
	var values []string
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, name) {
			values = append(values, h.Value)
		}
	}
	return values
}

func hasHeader(e *schemas.InboundEmail, name string) bool {
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

// headerWord returns a structured header value without comments and
// parameters, trimmed and lower-cased: "Auto-Replied (vacation); x=1"
// becomes "auto-replied".
func headerWord(value string) string {
	var b strings.Builder
	depth := 0
	for _, r := range value {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	word, _, _ := strings.Cut(b.String(), ";")
	return strings.ToLower(strings.TrimSpace(word))
}

// autoSubmitted reports an Auto-Submitted header whose value is not "no".
// An empty or unreadable value counts as automatic.
func autoSubmitted(m *Message) bool {
	for _, v := range headerValues(&m.Email, "Auto-Submitted") {
		if headerWord(v) != "no" {
			return true
		}
	}
	return false
}

// responseSuppressed reports an X-Auto-Response-Suppress header that
// lists All, AutoReply or OOF. The values are a comma-separated list of
// None, All, DR, NDR, RN, NRN, OOF and AutoReply (MS-OXCMAIL section
// 2.1.3.2.20). AutoReply strictly covers replies other than out-of-office
// notices. OOF also counts, because a sender who refuses out-of-office
// notices does not want an acknowledgement either.
func responseSuppressed(m *Message) bool {
	for _, v := range headerValues(&m.Email, "X-Auto-Response-Suppress") {
		for _, item := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(item)) {
			case "all", "autoreply", "oof":
				return true
			}
		}
	}
	return false
}

func bulkPrecedence(m *Message) bool {
	for _, v := range headerValues(&m.Email, "Precedence") {
		switch headerWord(v) {
		case "bulk", "junk", "list", "auto_reply":
			return true
		}
	}
	return false
}

// reportTypes are the media types of the machine-readable part of a
// delivery status notification (RFC 3464), a read receipt (RFC 8098) and
// an abuse feedback report (RFC 5965).
var reportTypes = map[string]bool{
	"message/delivery-status":          true,
	"message/global-delivery-status":   true,
	"message/disposition-notification": true,
	"message/feedback-report":          true,
}

// isReport reports a top-level Content-Type of multipart/report, or a part
// with one of reportTypes, which a report forwarded inside another
// message has.
func isReport(m *Message) bool {
	for _, v := range headerValues(&m.Email, "Content-Type") {
		mediaType, _, err := mime.ParseMediaType(v)
		if err != nil {
			mediaType = headerWord(v)
		}
		if mediaType == "multipart/report" {
			return true
		}
	}
	for _, a := range m.Email.Attachments {
		if reportTypes[strings.ToLower(a.ContentType)] {
			return true
		}
	}
	return false
}

// nullReturnPath reports an empty SMTP envelope sender, or a Return-Path
// header that is empty once spaces and angle brackets are removed ("<>",
// and "<<>>" as some servers write it).
func nullReturnPath(m *Message) bool {
	if env := m.Email.Envelope; env != nil && strings.Trim(strings.TrimSpace(env.MailFrom), "<>") == "" {
		return true
	}
	for _, v := range headerValues(&m.Email, "Return-Path") {
		if strings.Trim(strings.TrimSpace(v), "<> \t") == "" {
			return true
		}
	}
	return false
}

// anySenderLocalPart applies match to the lower-case local part of the
// From address, the reply recipient and the envelope sender.
func anySenderLocalPart(m *Message, match func(local string) bool) bool {
	e := &m.Email
	var addresses []string
	if e.From != nil {
		addresses = append(addresses, e.From.Address)
	}
	if r := AutoReplyRecipient(e); r != nil {
		addresses = append(addresses, r.Address)
	}
	if e.Envelope != nil {
		addresses = append(addresses, e.Envelope.MailFrom)
	}
	for _, addr := range addresses {
		local, _, ok := strings.Cut(strings.Trim(strings.TrimSpace(addr), "<>"), "@")
		if ok && match(strings.ToLower(local)) {
			return true
		}
	}
	return false
}

func isSystemLocalPart(local string) bool {
	local, _, _ = strings.Cut(local, "+")
	switch local {
	case "mailer-daemon", "mailerdaemon", "mailer_daemon", "postmaster":
		return true
	}
	return false
}

// isNoReplyLocalPart matches noreply, no-reply, no_reply, no.reply,
// donotreply, do-not-reply and the like anywhere in the local part, so
// billing-noreply and noreply+tag match too.
func isNoReplyLocalPart(local string) bool {
	squeezed := noReplySeparators.Replace(local)
	return strings.Contains(squeezed, "noreply") || strings.Contains(squeezed, "donotreply")
}

// noReplySeparators drops the separators that isNoReplyLocalPart ignores.
// A Replacer builds its tables on first use and is safe for concurrent
// use, so one serves every message.
var noReplySeparators = strings.NewReplacer("-", "", "_", "", ".", "")

// authFailed reports an SPF, DKIM or DMARC verdict of "fail". Softfail,
// neutral and none do not count, because many legitimate senders get them.
func authFailed(m *Message) bool {
	a := &m.Email.Auth
	for _, verdict := range []string{a.SPF, a.DKIM, a.DMARC} {
		if strings.EqualFold(strings.TrimSpace(verdict), "fail") {
			return true
		}
	}
	return false
}
