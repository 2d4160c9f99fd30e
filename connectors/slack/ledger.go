package slack

import (
	"context"
	"time"
)

// Status is the state of one ledger entry.
type Status string

// Ledger entry states. The package comment describes the protocol.
const (
	// StatusPending: a post is about to start or in flight.
	StatusPending Status = "pending"
	// StatusDelivered: the webhook returned a 2xx status.
	StatusDelivered Status = "delivered"
	// StatusFailed: the post failed permanently and the notification went
	// to the dead-letter topic.
	StatusFailed Status = "failed"
	// StatusUnknown: a process stopped while the entry was pending, so the
	// post may or may not have reached Slack. It is never posted again.
	StatusUnknown Status = "unknown"
)

// Entry is one notification in the ledger.
type Entry struct {
	EventID   string
	Tenant    string
	Status    Status
	Attempts  int    // posts started, the one in flight included
	LastError string // error of the last failed post; empty otherwise
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Claim is the result of Ledger.Claim.
type Claim struct {
	// Claimed is true when the entry was new and is now pending for the
	// caller, who must post and then record the outcome.
	Claimed bool
	// Previous is the status the entry had before the call when Claimed is
	// false. StatusPending means Claim found an entry left pending by
	// another process and has marked it StatusUnknown.
	Previous Status
}

// Ledger records the delivery state of notifications by EventID. Every
// method is safe for concurrent use. An error wrapping ErrLedgerPermanent
// cannot be fixed by retrying; any other error may be transient.
type Ledger interface {
	// RecoverPending marks every pending entry unknown and returns them as
	// they are now. The sink calls it once at start-up.
	RecoverPending(ctx context.Context) ([]Entry, error)

	// Claim inserts eventID as pending with one attempt if the ledger does
	// not have it. If it has it as pending, Claim marks it unknown. In both
	// other cases it changes nothing.
	Claim(ctx context.Context, eventID, tenant string) (Claim, error)

	// RecordAttempt stores the number of posts started so far for a
	// pending entry, before a retry.
	RecordAttempt(ctx context.Context, eventID string, attempts int) error

	// MarkDelivered records a 2xx after attempts posts. It also applies to
	// an entry that another process marked unknown meanwhile, since the
	// outcome is now known.
	MarkDelivered(ctx context.Context, eventID string, attempts int) error

	// MarkFailed records a permanent failure after attempts posts, with
	// the error text.
	MarkFailed(ctx context.Context, eventID string, attempts int, reason string) error

	// Release deletes a pending entry whose post did not go out or failed,
	// so that the notification is posted again when its record is read
	// again. Entries in other states are left alone.
	Release(ctx context.Context, eventID string) error

	// Lookup returns the entry of eventID, or ok false.
	Lookup(ctx context.Context, eventID string) (e Entry, ok bool, err error)
}
