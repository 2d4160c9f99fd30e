package ticketing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"mailtriage/connectors/ticketing/httpjson"
)

// REST creates tickets in any JSON API, with the body built by a Mapping.
//
//   - Create: POST {URL} with the mapped ticket body and the header
//     Idempotency-Key: KEY. The response is a JSON object whose IDField
//     holds the ticket ID.
//   - Lookup: GET {URL}?idempotency_key=KEY. The server returns a
//     JSON array of the matching tickets (or one object, or 404 for none);
//     the first with an ID wins. When the mapping stores the key in a
//     field, a ticket whose field holds another key is ignored.
//   - Comment: POST {URL}/{id}/comments with the mapped comment body and
//     the header Idempotency-Key: eventId. Lookup: GET {URL}/{id}/comments,
//     a JSON array searched for the eventId in the mapped field or the
//     event marker line in any string field.
type REST struct {
	// URL is the collection URL of tickets, such as
	// https://tickets.example.com/api/tickets.
	URL     string
	Client  *httpjson.Client
	Mapping *Mapping
}

// Kind implements Target.
func (r *REST) Kind() string { return "rest" }

// CreateTicket implements Target.
func (r *REST) CreateTicket(ctx context.Context, t *Ticket) (string, error) {
	body, err := build(r.Mapping.ticket, sourceValues(t, t.Body))
	if err != nil {
		return "", fmt.Errorf("building the ticket body: %w", err)
	}
	var resp map[string]json.RawMessage
	err = r.Client.Do(ctx, httpjson.Request{
		Method: http.MethodPost,
		URL:    r.base(),
		Body:   body,
		Header: http.Header{"Idempotency-Key": {t.Key}},
	}, &resp)
	if err != nil {
		return "", err
	}
	id := idString(resp[r.Mapping.IDField])
	if id == "" {
		return "", fmt.Errorf("%w: expected the field %q in the response: set idField in the mapping", errNoID, r.Mapping.IDField)
	}
	return id, nil
}

// FindTicket implements Target.
func (r *REST) FindTicket(ctx context.Context, t *Ticket) (string, bool, error) {
	items, err := r.list(ctx, r.base()+"?idempotency_key="+url.QueryEscape(t.Key))
	if err != nil {
		return "", false, err
	}
	keyField := r.Mapping.keyField()
	for _, item := range items {
		if keyField != nil {
			if v, ok := getPath(item, keyField).(string); ok && v != t.Key {
				continue
			}
		}
		if id := anyID(item[r.Mapping.IDField]); id != "" {
			return id, true, nil
		}
	}
	return "", false, nil
}

// AddComment implements Target.
func (r *REST) AddComment(ctx context.Context, externalID string, c *Comment) error {
	t := newTicket(c.Command)
	body, err := build(r.Mapping.comment, sourceValues(t, c.Body))
	if err != nil {
		return fmt.Errorf("building the comment body: %w", err)
	}
	return r.Client.Do(ctx, httpjson.Request{
		Method: http.MethodPost,
		URL:    r.commentsURL(externalID),
		Body:   body,
		Header: http.Header{"Idempotency-Key": {c.EventID}},
	}, nil)
}

// FindComment implements Target.
func (r *REST) FindComment(ctx context.Context, externalID string, c *Comment) (bool, error) {
	items, err := r.list(ctx, r.commentsURL(externalID))
	if err != nil {
		return false, err
	}
	keyField := r.Mapping.commentKeyField()
	marker := EventMarker(c.EventID)
	for _, item := range items {
		if keyField != nil {
			if v, ok := getPath(item, keyField).(string); ok && v == c.EventID {
				return true, nil
			}
		}
		for _, v := range item {
			if s, ok := v.(string); ok && hasLine(s, marker) {
				return true, nil
			}
		}
	}
	return false, nil
}

// list GETs u and returns its JSON array of objects, a lone object as a
// list of one, and an empty list for 404.
func (r *REST) list(ctx context.Context, u string) ([]map[string]any, error) {
	var raw json.RawMessage
	err := r.Client.Do(ctx, httpjson.Request{Method: http.MethodGet, URL: u}, &raw)
	if httpjson.IsStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 {
		return nil, nil
	}
	// UseNumber keeps numeric IDs above 2^53 exact.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if raw[0] == '{' {
		var one map[string]any
		if err := dec.Decode(&one); err != nil {
			return nil, fmt.Errorf("decoding the lookup response: %w", err)
		}
		return []map[string]any{one}, nil
	}
	var items []map[string]any
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("decoding the lookup response: expected a JSON array of objects: %w", err)
	}
	return items, nil
}

func (r *REST) base() string { return strings.TrimRight(r.URL, "/") }

func (r *REST) commentsURL(externalID string) string {
	return r.base() + "/" + url.PathEscape(externalID) + "/comments"
}

// anyID returns an ID decoded with UseNumber as a string.
func anyID(v any) string {
	switch id := v.(type) {
	case string:
		return id
	case json.Number:
		return id.String()
	}
	return ""
}
