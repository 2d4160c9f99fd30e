package ticketing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mailtriage/connectors/ticketing/httpjson"
)

// Jira creates customer requests through the Jira Service Management REST
// API (/rest/servicedeskapi).
//
//   - Create: POST /rest/servicedeskapi/request with serviceDeskId,
//     requestTypeId, requestFieldValues{summary, description} and
//     raiseOnBehalfOf (the requester's address). The summary starts with
//     "[ticketRef]". The idempotency key goes into the field KeyField when
//     set (a text custom field on the request type), and otherwise into
//     the last line of the description ("mailtriage-key: KEY").
//   - Lookup: the servicedeskapi has no JQL or property search, so the
//     sink lists GET /rest/servicedeskapi/request?serviceDeskId=…&
//     requestTypeId=…&searchTerm=ticketRef&requestOwnership=ALL_REQUESTS&
//     requestStatus=ALL_REQUESTS, where searchTerm matches the summary,
//     and keeps the request whose key field (or description marker line)
//     equals the key, following pages until isLastPage.
//   - Comment: POST /rest/servicedeskapi/request/{issueKey}/comment with
//     body and public. Lookup: GET the same path, paged with start and
//     limit, searched for the comment's event marker line.
//
// The external ID is the issue key, such as "HELP-12".
type Jira struct {
	// BaseURL is the site URL, such as https://acme.atlassian.net.
	BaseURL       string
	Client        *httpjson.Client
	ServiceDeskID string
	RequestTypeID string
	// KeyField is the ID of the field that stores the idempotency key,
	// such as "customfield_10050". Empty puts the key in the description.
	KeyField string
	// RaiseOnBehalfOf sends the requester's address as raiseOnBehalfOf, so
	// that the customer is the reporter. It needs the "Service Desk Team"
	// permission and a customer account for the address.
	RaiseOnBehalfOf bool
	// PublicComments makes follow-up comments public; the default adds them
	// as internal comments, for the reason given at Zendesk.PublicComments.
	PublicComments bool
}

// Kind implements Target.
func (j *Jira) Kind() string { return "jira" }

// CreateTicket implements Target.
func (j *Jira) CreateTicket(ctx context.Context, t *Ticket) (string, error) {
	fields := map[string]any{
		"summary":     jiraSummary(t),
		"description": t.description(),
	}
	if j.KeyField != "" {
		fields[j.KeyField] = t.Key
	} else {
		fields["description"] = t.description() + "\n\n" + KeyMarker(t.Key)
	}
	body := map[string]any{
		"serviceDeskId":      j.ServiceDeskID,
		"requestTypeId":      j.RequestTypeID,
		"requestFieldValues": fields,
	}
	if j.RaiseOnBehalfOf && t.Requester.Address != "" {
		body["raiseOnBehalfOf"] = t.Requester.Address
	}

	var resp struct {
		IssueKey string `json:"issueKey"`
	}
	err := j.Client.Do(ctx, httpjson.Request{Method: http.MethodPost, URL: j.url("/rest/servicedeskapi/request"), Body: body}, &resp)
	if err != nil {
		return "", err
	}
	if resp.IssueKey == "" {
		return "", errNoID
	}
	return resp.IssueKey, nil
}

// jiraPageSize is the limit of one page of a Jira list.
const jiraPageSize = 50

// FindTicket implements Target.
func (j *Jira) FindTicket(ctx context.Context, t *Ticket) (string, bool, error) {
	for page := 0; page < maxPages; page++ {
		q := url.Values{
			"serviceDeskId":    {j.ServiceDeskID},
			"requestTypeId":    {j.RequestTypeID},
			"searchTerm":       {t.TicketRef},
			"requestOwnership": {"ALL_REQUESTS"},
			"requestStatus":    {"ALL_REQUESTS"},
			"start":            {strconv.Itoa(page * jiraPageSize)},
			"limit":            {strconv.Itoa(jiraPageSize)},
		}
		var resp struct {
			Values []struct {
				IssueKey           string `json:"issueKey"`
				RequestFieldValues []struct {
					FieldID string `json:"fieldId"`
					Value   any    `json:"value"`
				} `json:"requestFieldValues"`
			} `json:"values"`
			IsLastPage bool `json:"isLastPage"`
		}
		err := j.Client.Do(ctx, httpjson.Request{Method: http.MethodGet, URL: j.url("/rest/servicedeskapi/request") + "?" + q.Encode()}, &resp)
		if err != nil {
			return "", false, err
		}
		for _, v := range resp.Values {
			for _, f := range v.RequestFieldValues {
				if j.matchesKey(f.FieldID, f.Value, t.Key) && v.IssueKey != "" {
					return v.IssueKey, true, nil
				}
			}
		}
		if resp.IsLastPage || len(resp.Values) == 0 {
			return "", false, nil
		}
	}
	return "", false, nil
}

// matchesKey reports whether a request field value carries key: the key
// field equal to it, or without a key field a description with its
// marker line.
func (j *Jira) matchesKey(fieldID string, value any, key string) bool {
	text, ok := value.(string)
	if !ok {
		return false
	}
	if j.KeyField != "" {
		return fieldID == j.KeyField && strings.TrimSpace(text) == key
	}
	return fieldID == "description" && hasLine(text, KeyMarker(key))
}

// AddComment implements Target.
func (j *Jira) AddComment(ctx context.Context, externalID string, c *Comment) error {
	return j.Client.Do(ctx, httpjson.Request{
		Method: http.MethodPost,
		URL:    j.url("/rest/servicedeskapi/request/" + url.PathEscape(externalID) + "/comment"),
		Body:   map[string]any{"body": c.Body, "public": j.PublicComments},
	}, nil)
}

// FindComment implements Target.
func (j *Jira) FindComment(ctx context.Context, externalID string, c *Comment) (bool, error) {
	marker := EventMarker(c.EventID)
	for page := 0; page < maxPages; page++ {
		q := url.Values{"start": {strconv.Itoa(page * jiraPageSize)}, "limit": {strconv.Itoa(jiraPageSize)}}
		var resp struct {
			Values []struct {
				Body string `json:"body"`
			} `json:"values"`
			IsLastPage bool `json:"isLastPage"`
		}
		u := j.url("/rest/servicedeskapi/request/"+url.PathEscape(externalID)+"/comment") + "?" + q.Encode()
		if err := j.Client.Do(ctx, httpjson.Request{Method: http.MethodGet, URL: u}, &resp); err != nil {
			return false, err
		}
		for _, v := range resp.Values {
			if hasLine(v.Body, marker) {
				return true, nil
			}
		}
		if resp.IsLastPage || len(resp.Values) == 0 {
			return false, nil
		}
	}
	return false, nil
}

func (j *Jira) url(path string) string { return strings.TrimRight(j.BaseURL, "/") + path }

// jiraSummary returns "[ticketRef] subject", cut to Jira's summary limit
// of 255 characters.
func jiraSummary(t *Ticket) string {
	s := fmt.Sprintf("[%s] %s", t.TicketRef, strings.Join(strings.Fields(t.Subject), " "))
	if r := []rune(s); len(r) > 255 {
		s = string(r[:254]) + "…"
	}
	return s
}
