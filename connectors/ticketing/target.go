package ticketing

import (
	"context"
	"errors"
)

// Target is one external ticketing system. Its methods send one request
// each (following pages where a list is paged) and return the errors of
// package httpjson, which the sink retries by httpjson.Retryable.
type Target interface {
	// Kind returns "rest", "zendesk" or "jira".
	Kind() string
	// CreateTicket creates the ticket and returns its external ID.
	CreateTicket(ctx context.Context, t *Ticket) (externalID string, err error)
	// FindTicket looks the ticket up by t.Key and returns its external ID,
	// or found false when the system has none.
	FindTicket(ctx context.Context, t *Ticket) (externalID string, found bool, err error)
	// AddComment posts c on the ticket externalID.
	AddComment(ctx context.Context, externalID string, c *Comment) error
	// FindComment reports whether the ticket externalID has the comment of
	// c.EventID.
	FindComment(ctx context.Context, externalID string, c *Comment) (bool, error)
}

// errNoID is returned when a create response lacks the ticket ID.
var errNoID = errors.New("the create response has no ticket ID")
