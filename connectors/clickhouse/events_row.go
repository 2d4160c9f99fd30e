package clickhouse

import (
	"context"
	"fmt"
	"time"

	"mailtriage/schemas"
)

// eventRow is one row of the feedback, ticket events or dead letters
// table. Like a decision row, every value but inserted_at is derived from
// the record alone, so reading a record again gives an equal row.
type eventRow interface {
	// values returns the column values in the order of the table's
	// columns, with insertedAt as the insert time.
	values(insertedAt time.Time) []any
	// partitionTime returns the time whose month is the row's partition.
	partitionTime() time.Time
	// eventID returns the event ID, for error messages.
	eventID() string
}

// feedbackRow is a row of the feedback table.
type feedbackRow struct {
	ev schemas.FeedbackEvent
}

func (r *feedbackRow) values(insertedAt time.Time) []any {
	ev := &r.ev
	at := ev.At.UTC()
	return []any{
		ev.EventID, ev.Tenant, ev.TicketRef, ev.Source,
		ev.From.Queue, ev.From.Priority, ev.To.Queue, ev.To.Priority, ev.Reason.Kind,
		at, at.UnixMilli(), insertedAt, uint64(at.UnixMilli()),
	}
}

func (r *feedbackRow) partitionTime() time.Time { return r.ev.At }
func (r *feedbackRow) eventID() string          { return r.ev.EventID }

// ticketEventRow is a row of the ticket events table.
type ticketEventRow struct {
	ev schemas.TicketEvent
}

func (r *ticketEventRow) values(insertedAt time.Time) []any {
	ev := &r.ev
	at := ev.At.UTC()
	return []any{
		ev.EventID, ev.Tenant, ev.TicketRef, ev.Kind, ev.Status, ev.ActorKind,
		at, at.UnixMilli(), insertedAt, uint64(at.UnixMilli()),
	}
}

func (r *ticketEventRow) partitionTime() time.Time { return r.ev.At }
func (r *ticketEventRow) eventID() string          { return r.ev.EventID }

// deadLetterRow is a row of the dead letters table: the position and time
// of the failure, without the key, payload and error text of the record.
type deadLetterRow struct {
	ev schemas.DeadLetter
}

func (r *deadLetterRow) values(insertedAt time.Time) []any {
	ev := &r.ev
	failed := ev.FailedAt.UTC()
	return []any{
		ev.EventID, ev.Tenant, ev.Stage, ev.SourceTopic, ev.SourcePartition, ev.SourceOffset,
		uint32(ev.Attempts), failed, insertedAt, uint64(failed.UnixMilli()),
	}
}

func (r *deadLetterRow) partitionTime() time.Time { return r.ev.FailedAt }
func (r *deadLetterRow) eventID() string          { return r.ev.EventID }

// eventBatch holds the rows of one polled batch that go to the tables
// besides the decisions table.
type eventBatch struct {
	feedback     []eventRow
	ticketEvents []eventRow
	deadLetters  []eventRow
}

// len returns the number of rows in b.
func (b *eventBatch) len() int {
	return len(b.feedback) + len(b.ticketEvents) + len(b.deadLetters)
}

// decodeEventRecord decodes value, a record of topic, into b. It returns
// the tenant of the record when known, and an error wrapping a schemas
// error or errInvalidEvent when the record cannot become a row.
func (cfg *Config) decodeEventRecord(ctx context.Context, topic string, value []byte, b *eventBatch) (string, error) {
	switch topic {
	case cfg.FeedbackTopic:
		var ev schemas.FeedbackEvent
		if err := cfg.Serde.DecodeContext(ctx, value, &ev); err != nil {
			return "", err
		}
		if err := checkRecordKey("FeedbackEvent", ev.EventID, ev.Tenant, ev.TicketRef); err != nil {
			return ev.Tenant, err
		}
		if err := checkDateTime("at", ev.At, ev.EventID); err != nil {
			return ev.Tenant, err
		}
		b.feedback = append(b.feedback, &feedbackRow{ev: ev})
		return ev.Tenant, nil

	case cfg.TicketEventsTopic:
		var ev schemas.TicketEvent
		if err := cfg.Serde.DecodeContext(ctx, value, &ev); err != nil {
			return "", err
		}
		if err := checkRecordKey("TicketEvent", ev.EventID, ev.Tenant, ev.TicketRef); err != nil {
			return ev.Tenant, err
		}
		if err := checkDateTime("at", ev.At, ev.EventID); err != nil {
			return ev.Tenant, err
		}
		b.ticketEvents = append(b.ticketEvents, &ticketEventRow{ev: ev})
		return ev.Tenant, nil

	case cfg.DLQTopic:
		var ev schemas.DeadLetter
		if err := cfg.Serde.DecodeContext(ctx, value, &ev); err != nil {
			return "", err
		}
		if ev.EventID == "" {
			return ev.Tenant, fmt.Errorf("%w: the DeadLetter of %s/%d@%d has an empty eventId, so it could not be deduplicated: fix the producer of the record",
				errInvalidEvent, ev.SourceTopic, ev.SourcePartition, ev.SourceOffset)
		}
		if ev.Attempts < 0 {
			return ev.Tenant, fmt.Errorf("%w: negative attempts %d in dead letter %s: fix the producer of the record", errInvalidEvent, ev.Attempts, ev.EventID)
		}
		if err := checkDateTime("failedAt", ev.FailedAt, ev.EventID); err != nil {
			return ev.Tenant, err
		}
		b.deadLetters = append(b.deadLetters, &deadLetterRow{ev: ev})
		return ev.Tenant, nil
	}
	return "", fmt.Errorf("%w: record of topic %s, which the sink does not consume: this is a bug in the sink", errInvalidEvent, topic)
}

// checkRecordKey rejects an event without the fields that key its row or
// join it to a ticket.
func checkRecordKey(contract, eventID, tenant, ticketRef string) error {
	switch {
	case eventID == "":
		return fmt.Errorf("%w: %s of ticket %q has an empty eventId, so the row could not be deduplicated: fix the producer of the record", errInvalidEvent, contract, ticketRef)
	case tenant == "":
		return fmt.Errorf("%w: tenant is empty in %s %s: fix the producer of the record", errInvalidEvent, contract, eventID)
	case ticketRef == "":
		return fmt.Errorf("%w: ticketRef is empty in %s %s: fix the producer of the record", errInvalidEvent, contract, eventID)
	}
	return nil
}
