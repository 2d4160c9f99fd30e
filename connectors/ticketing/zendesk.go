package ticketing

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mailtriage/connectors/ticketing/httpjson"
)

// maxPages bounds the pages a lookup reads, so that a server that keeps
// returning a next page cannot hold the sink forever.
const maxPages = 50

// Zendesk creates tickets through the Zendesk Support API (v2).
//
//   - Create: POST /api/v2/tickets.json with ticket{subject,
//     comment{body, public}, requester{name, email}, priority, tags,
//     external_id}, where external_id is the idempotency key, and the
//     header Idempotency-Key with the same value.
//   - Lookup: GET /api/v2/tickets.json?external_id=KEY, the ticket list
//     filtered by external ID. The lowest ID wins if there are several.
//   - Comment: PUT /api/v2/tickets/{id}.json with ticket{comment{body,
//     public}}. Lookup: GET /api/v2/tickets/{id}/comments.json, searched
//     for the comment's event marker line, following next_page on the
//     same host.
type Zendesk struct {
	// BaseURL is the account URL, such as https://acme.zendesk.com.
	BaseURL string
	Client  *httpjson.Client
	// PublicComments makes follow-up comments public. The default, false,
	// adds them as internal notes, because the API user is their author and
	// a public comment would email the requester a copy of their own
	// message.
	PublicComments bool
}

// Kind implements Target.
func (z *Zendesk) Kind() string { return "zendesk" }

type zendeskTicket struct {
	ID         int64  `json:"id,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
}

type zendeskComment struct {
	Body   string `json:"body"`
	Public bool   `json:"public"`
}

// CreateTicket implements Target.
func (z *Zendesk) CreateTicket(ctx context.Context, t *Ticket) (string, error) {
	body := map[string]any{"ticket": map[string]any{
		"subject":     t.Subject,
		"comment":     zendeskComment{Body: t.description(), Public: true},
		"requester":   map[string]string{"name": requesterName(t), "email": t.Requester.Address},
		"priority":    zendeskPriority(t.Priority),
		"tags":        zendeskTags(t),
		"external_id": t.Key,
	}}
	var resp struct {
		Ticket zendeskTicket `json:"ticket"`
	}
	err := z.Client.Do(ctx, httpjson.Request{
		Method: http.MethodPost,
		URL:    z.url("/api/v2/tickets.json"),
		Body:   body,
		Header: http.Header{"Idempotency-Key": {t.Key}},
	}, &resp)
	if err != nil {
		return "", err
	}
	if resp.Ticket.ID == 0 {
		return "", errNoID
	}
	return strconv.FormatInt(resp.Ticket.ID, 10), nil
}

// FindTicket implements Target.
func (z *Zendesk) FindTicket(ctx context.Context, t *Ticket) (string, bool, error) {
	next := z.url("/api/v2/tickets.json") + "?external_id=" + url.QueryEscape(t.Key)
	var best int64
	for page := 0; next != "" && page < maxPages; page++ {
		var resp struct {
			Tickets  []zendeskTicket `json:"tickets"`
			NextPage *string         `json:"next_page"`
		}
		if err := z.Client.Do(ctx, httpjson.Request{Method: http.MethodGet, URL: next}, &resp); err != nil {
			return "", false, err
		}
		for _, tk := range resp.Tickets {
			if tk.ExternalID == t.Key && tk.ID > 0 && (best == 0 || tk.ID < best) {
				best = tk.ID
			}
		}
		next = z.sameHost(resp.NextPage)
	}
	if best == 0 {
		return "", false, nil
	}
	return strconv.FormatInt(best, 10), true, nil
}

// AddComment implements Target.
func (z *Zendesk) AddComment(ctx context.Context, externalID string, c *Comment) error {
	body := map[string]any{"ticket": map[string]any{
		"comment": zendeskComment{Body: c.Body, Public: z.PublicComments},
	}}
	return z.Client.Do(ctx, httpjson.Request{
		Method: http.MethodPut,
		URL:    z.url("/api/v2/tickets/" + url.PathEscape(externalID) + ".json"),
		Body:   body,
	}, nil)
}

// FindComment implements Target.
func (z *Zendesk) FindComment(ctx context.Context, externalID string, c *Comment) (bool, error) {
	marker := EventMarker(c.EventID)
	next := z.url("/api/v2/tickets/" + url.PathEscape(externalID) + "/comments.json")
	for page := 0; next != "" && page < maxPages; page++ {
		var resp struct {
			Comments []struct {
				Body      string `json:"body"`
				PlainBody string `json:"plain_body"`
			} `json:"comments"`
			NextPage *string `json:"next_page"`
		}
		if err := z.Client.Do(ctx, httpjson.Request{Method: http.MethodGet, URL: next}, &resp); err != nil {
			return false, err
		}
		for _, cm := range resp.Comments {
			if hasLine(cm.Body, marker) || hasLine(cm.PlainBody, marker) {
				return true, nil
			}
		}
		next = z.sameHost(resp.NextPage)
	}
	return false, nil
}

func (z *Zendesk) url(path string) string { return strings.TrimRight(z.BaseURL, "/") + path }

// sameHost returns next when it points at the account's scheme and host,
// and "" otherwise, so that a forged next_page never receives the token.
func (z *Zendesk) sameHost(next *string) string {
	if next == nil || *next == "" {
		return ""
	}
	return sameOrigin(z.BaseURL, *next)
}

// sameOrigin returns next when its scheme and host equal base's, and ""
// otherwise.
func sameOrigin(base, next string) string {
	b, err1 := url.Parse(base)
	n, err2 := url.Parse(next)
	if err1 != nil || err2 != nil || b.Scheme != n.Scheme || b.Host != n.Host {
		return ""
	}
	return next
}

// zendeskPriority maps the contract's priority to Zendesk's, which has the
// same four values; anything else becomes "normal".
func zendeskPriority(p string) string {
	switch p {
	case "low", "normal", "high", "urgent":
		return p
	}
	return "normal"
}

// zendeskTags returns the command's tags and a queue tag, lower-cased with
// white space replaced by '_', because Zendesk splits tags at spaces.
func zendeskTags(t *Ticket) []string {
	tags := make([]string, 0, len(t.Tags)+1)
	seen := map[string]bool{}
	add := func(tag string) {
		tag = strings.ToLower(strings.Join(strings.Fields(tag), "_"))
		if tag != "" && !seen[tag] {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	for _, tag := range t.Tags {
		add(tag)
	}
	if t.Queue != "" {
		add("queue_" + t.Queue)
	}
	return tags
}

// requesterName returns the requester's display name, or the part of the
// address before '@' when the message gave none, since Zendesk requires a
// name for a new user.
func requesterName(t *Ticket) string {
	if name := strings.TrimSpace(t.Requester.Name); name != "" {
		return name
	}
	local, _, _ := strings.Cut(t.Requester.Address, "@")
	return local
}

// idString reads a JSON ID that a system sends as a number or a string.
func idString(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String()
	}
	return ""
}

// describeTarget names a target and its base URL for logs, without a
// query or credentials.
func describeTarget(kind, base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return kind
	}
	return fmt.Sprintf("%s at %s://%s%s", kind, u.Scheme, u.Host, u.Path)
}
