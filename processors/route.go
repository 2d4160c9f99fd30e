package processors

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
)

// Default priority keywords. Bare "down" is not among them because it is
// too common in other senses ("down payment", "scroll down"); the phrases
// that mean an outage are.
var (
	DefaultUrgentKeywords = []string{
		"urgent", "urgently", "emergency", "outage", "critical",
		"is down", "are down", "went down", "site down", "service down", "system down", "production down",
	}
	DefaultHighKeywords = []string{
		"asap", "as soon as possible", "immediately",
		"cannot log in", "can't log in", "cannot login", "can't login", "unable to log in", "unable to login",
		"locked out", "account locked", "not working",
	}
)

// RouteConfig configures Route.
type RouteConfig struct {
	// UrgentKeywords raise a message without a rule priority to "urgent".
	// Nil means DefaultUrgentKeywords; an empty non-nil list disables them.
	UrgentKeywords []string
	// HighKeywords raise a message without a rule priority to "high".
	// Nil means DefaultHighKeywords; an empty non-nil list disables them.
	HighKeywords []string
}

// Route settles a message's priority and ticket reference and completes
// Reason.Detail. A priority set by the matching rule stays. Otherwise the
// subject and body (the reply text, or the whole text when there is none)
// decide: "urgent" for an urgent keyword, "high" for a high keyword, and
// "normal" when neither occurs. Keywords are whole words or phrases,
// case-insensitive.
type Route struct {
	urgent   *keywordMatcher // nil when disabled
	high     *keywordMatcher // nil when disabled
	keywords *keywordSet     // the automaton of both lists
}

// NewRoute returns a Route with cfg's defaults applied.
func NewRoute(cfg RouteConfig) *Route {
	urgent, high := cfg.UrgentKeywords, cfg.HighKeywords
	if urgent == nil {
		urgent = DefaultUrgentKeywords
	}
	if high == nil {
		high = DefaultHighKeywords
	}
	r := &Route{}
	if len(urgent) > 0 {
		r.urgent = newKeywordMatcher(urgent)
	}
	if len(high) > 0 {
		r.high = newKeywordMatcher(high)
	}
	var matchers []*keywordMatcher
	for _, m := range []*keywordMatcher{r.urgent, r.high} {
		if m != nil {
			matchers = append(matchers, m)
		}
	}
	r.keywords = newKeywordSet(matchers)
	return r
}

// Name returns "route".
func (r *Route) Name() string { return "route" }

// Process sets m.Decision.Priority and TicketRef and appends the priority's
// reason to m.Decision.Reason.Detail. It never fails.
func (r *Route) Process(ctx context.Context, m *Message) (Result, error) {
	d := &m.Decision
	why := ""
	if d.Priority != "" {
		why = "priority " + d.Priority + " set by the rule"
	} else {
		d.Priority, why = r.priorityFromText(m)
	}

	d.TicketRef = TicketRef(m.Email.Tenant, m.Email.MessageID)
	if d.Reason.Detail == "" {
		d.Reason.Detail = "queue " + d.Queue
	}
	d.Reason.Detail += "; " + why
	return Continue, nil
}

func (r *Route) priorityFromText(m *Message) (priority, why string) {
	body := m.Email.ReplyText
	if strings.TrimSpace(body) == "" {
		body = m.Email.Text
	}
	// Each text is scanned once, for the keywords of both levels, and only
	// when a level needs it.
	var starts [2][]int
	texts := [2]string{m.Email.Subject, body}
	for _, level := range []struct {
		name     string
		keywords *keywordMatcher
	}{{"urgent", r.urgent}, {"high", r.high}} {
		if level.keywords == nil {
			continue
		}
		for i, text := range texts {
			if starts[i] == nil {
				starts[i] = r.keywords.scan(m.keywordTexts.fold(text))
			}
			if kw := r.keywords.find(level.keywords, starts[i]); kw != "" {
				return level.name, fmt.Sprintf("priority %s from keyword %q", level.name, kw)
			}
		}
	}
	return "normal", "priority normal by default"
}

// crockford is Crockford's base32 alphabet: digits and upper-case letters
// without I, L, O and U, so a reference read aloud or retyped is
// unambiguous.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ticketRefChars is the number of base32 characters in a ticket reference:
// 50 bits of the hash.
const ticketRefChars = 10

// TicketRef returns the ticket reference of a message: "T-" and 10
// Crockford base32 characters of the SHA-256 of tenant and messageID, so
// every copy and replay of a message gets the same reference.
//
// References are unique per tenant only by chance. With 50 bits, the odds
// that any two of n tickets of one tenant share a reference are about
// n²/2⁵¹: 4·10⁻⁶ for 100,000 tickets, 4·10⁻⁴ for a million and 4% for ten
// million. Six characters (30 bits) would already give 5% at 10,000.
func TicketRef(tenant, messageID string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + messageID))
	bits := binary.BigEndian.Uint64(sum[:8]) >> (64 - 5*ticketRefChars)

	ref := make([]byte, ticketRefChars)
	for i := ticketRefChars - 1; i >= 0; i-- {
		ref[i] = crockford[bits&31]
		bits >>= 5
	}
	return "T-" + string(ref)
}

// IsTicketRef reports whether s has the form TicketRef returns: "T-" and
// ticketRefChars upper-case Crockford base32 characters.
func IsTicketRef(s string) bool {
	if len(s) != 2+ticketRefChars || s[:2] != "T-" {
		return false
	}
	for i := 2; i < len(s); i++ {
		if strings.IndexByte(crockford, s[i]) < 0 {
			return false
		}
	}
	return true
}

// normalizeTicketRef turns a reference as a person may retype it into the
// form TicketRef returns: upper case, "T-" added when missing, and the
// letters that Crockford's base32 reads as digits (O as 0, I and L as 1)
// replaced. It reports false when the result is not a ticket reference.
func normalizeTicketRef(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "T-") {
		s = "T-" + s
	}
	body := strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(s[2:])
	ref := "T-" + body
	return ref, IsTicketRef(ref)
}
