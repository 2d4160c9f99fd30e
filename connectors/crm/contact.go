package crm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"mailtriage/connectors/ticketing/httpjson"
)

// AddressHash returns the hex SHA-256 of the trimmed, lower-cased address,
// the contact's identity in the ledger.
func AddressHash(address string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(address))))
	return hex.EncodeToString(sum[:])
}

// ContactKey returns the idempotency key of a contact: "tenant:HASH".
func ContactKey(tenant, addressHash string) string { return tenant + ":" + addressHash }

// Contact is the JSON body of a create or update.
type Contact struct {
	Email          string   `json:"email"`
	Name           string   `json:"name,omitempty"`
	Tenant         string   `json:"tenant"`
	LastTicketRef  string   `json:"lastTicketRef"`
	TicketRefs     []string `json:"ticketRefs"`
	IdempotencyKey string   `json:"idempotency_key"`
}

// withRef returns refs with ref appended, unless it is there already.
func withRef(refs []string, ref string) []string {
	if slices.Contains(refs, ref) {
		return refs
	}
	return append(slices.Clone(refs), ref)
}

// api sends the CRM requests of the package comment.
type api struct {
	url    string
	client *httpjson.Client
}

func (a *api) base() string { return strings.TrimRight(a.url, "/") }

// find looks the contact up by its key and returns its ID, or "".
func (a *api) find(ctx context.Context, key string) (string, error) {
	var raw json.RawMessage
	err := a.client.Do(ctx, httpjson.Request{Method: http.MethodGet, URL: a.base() + "?idempotency_key=" + url.QueryEscape(key)}, &raw)
	if httpjson.IsStatus(err, http.StatusNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	type found struct {
		ID             json.RawMessage `json:"id"`
		IdempotencyKey *string         `json:"idempotency_key"`
	}
	var items []found
	trimmed := strings.TrimSpace(string(raw))
	switch {
	case trimmed == "":
		return "", nil
	case trimmed[0] == '{':
		var one found
		if err := json.Unmarshal(raw, &one); err != nil {
			return "", fmt.Errorf("decoding the contact lookup: %w", err)
		}
		items = []found{one}
	default:
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", fmt.Errorf("decoding the contact lookup: expected a JSON array of objects: %w", err)
		}
	}
	for _, it := range items {
		if it.IdempotencyKey != nil && *it.IdempotencyKey != key {
			continue
		}
		if id := idString(it.ID); id != "" {
			return id, nil
		}
	}
	return "", nil
}

// create POSTs c and returns the new contact's ID.
func (a *api) create(ctx context.Context, c *Contact) (string, error) {
	var resp struct {
		ID json.RawMessage `json:"id"`
	}
	err := a.client.Do(ctx, httpjson.Request{
		Method: http.MethodPost, URL: a.base(), Body: c,
		Header: http.Header{"Idempotency-Key": {c.IdempotencyKey}},
	}, &resp)
	if err != nil {
		return "", err
	}
	id := idString(resp.ID)
	if id == "" {
		return "", errors.New("the create response has no \"id\" of the new contact: the CRM must return the contact as a JSON object with its id")
	}
	return id, nil
}

// update PUTs c to the contact id.
func (a *api) update(ctx context.Context, id string, c *Contact) error {
	return a.client.Do(ctx, httpjson.Request{Method: http.MethodPut, URL: a.base() + "/" + url.PathEscape(id), Body: c}, nil)
}

// idString reads a JSON ID sent as a number or a string.
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
