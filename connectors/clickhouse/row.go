package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"mailtriage/schemas"
)

// errInvalidEvent marks a DecisionEvent that decodes but cannot become a
// row. Like a decoding error, retrying does not fix it, so the record goes
// to the dead-letter topic.
var errInvalidEvent = errors.New("invalid DecisionEvent")

// row is one row of the decisions table. Every field is derived from the
// record alone, so reading a record again gives an equal row. inserted_at
// and sink_ms are not fields: they are stamped at insert time.
type row struct {
	EventID          string
	Tenant           string
	MessageID        string
	TicketRef        string
	Queue            string
	Priority         string
	Tags             []string
	ReasonKind       string
	RuleID           string
	RulesetVersion   string
	ModelVersion     string
	TopLabel         string
	TopProbability   float64
	TopLabels        []string  // every top label of the decision, in its order
	TopProbabilities []float64 // TopProbabilities[i] is the probability of TopLabels[i]
	Threshold        float64
	Duplicate        bool
	FollowUp         bool
	PIIKinds         []string // sorted
	PIICounts        []uint32 // PIICounts[i] counts PIIKinds[i]
	PIITotal         uint64
	Source           string
	SenderDomain     string
	Attachments      uint32
	Warnings         uint32
	ReceivedAt       time.Time
	DecidedAt        time.Time
	DecidedMs        int64  // DecidedAt - ReceivedAt in milliseconds; negative when the clocks disagree
	Version          uint64 // DecidedAt in milliseconds since the Unix epoch
}

// decodeRow decodes a DecisionEvent record value into a row with the
// single-object decoder. decodeRowWith documents the errors.
func decodeRow(value []byte) (row, error) {
	return decodeRowWith(context.Background(), singleObject, value)
}

// singleObject decodes the records of decodeRow.
var singleObject = schemas.NewSingleObject()

// decodeRowWith decodes a DecisionEvent record value with serde into a
// row. The error wraps a schemas error when the value does not decode
// (schemas.ErrRegistry when a registry lookup failed and may pass on
// retry), and errInvalidEvent when a field cannot be stored.
func decodeRowWith(ctx context.Context, serde *schemas.Serde, value []byte) (row, error) {
	var ev schemas.DecisionEvent
	if err := serde.DecodeContext(ctx, value, &ev); err != nil {
		return row{}, err
	}
	return rowFromEvent(&ev)
}

// rowFromEvent maps ev to a row. It rejects the values known to make
// ClickHouse reject the whole batch, such as a time outside the DateTime
// range, so that such an event goes to the DLQ instead of blocking the
// others.
func rowFromEvent(ev *schemas.DecisionEvent) (row, error) {
	if err := checkEvent(ev); err != nil {
		return row{}, err
	}

	kinds, counts, total := piiColumns(ev.PII)
	label, probability := topLabel(ev.Reason.TopLabels)
	labels, probabilities := topLabelColumns(ev.Reason.TopLabels)
	return row{
		EventID:          ev.EventID,
		Tenant:           ev.Tenant,
		MessageID:        ev.MessageID,
		TicketRef:        ev.TicketRef,
		Queue:            ev.Queue,
		Priority:         ev.Priority,
		Tags:             nonNil(ev.Tags),
		ReasonKind:       ev.Reason.Kind,
		RuleID:           ev.Reason.RuleID,
		RulesetVersion:   ev.Reason.RulesetVersion,
		ModelVersion:     ev.Reason.ModelVersion,
		TopLabel:         label,
		TopProbability:   probability,
		TopLabels:        labels,
		TopProbabilities: probabilities,
		Threshold:        ev.Reason.Threshold,
		Duplicate:        ev.Duplicate,
		FollowUp:         ev.FollowUp,
		PIIKinds:         kinds,
		PIICounts:        counts,
		PIITotal:         total,
		Source:           ev.Source,
		SenderDomain:     ev.SenderDomain,
		Attachments:      uint32(ev.Attachments),
		Warnings:         uint32(ev.Warnings),
		ReceivedAt:       ev.ReceivedAt.UTC(),
		DecidedAt:        ev.DecidedAt.UTC(),
		DecidedMs:        ev.DecidedAt.Sub(ev.ReceivedAt).Milliseconds(),
		Version:          uint64(ev.DecidedAt.UnixMilli()),
	}, nil
}

// checkEvent returns an error wrapping errInvalidEvent that names the first
// field of ev that cannot be stored.
func checkEvent(ev *schemas.DecisionEvent) error {
	switch {
	case ev.EventID == "":
		return fmt.Errorf("%w: eventId is empty, so the row could not be deduplicated: fix the producer of the record", errInvalidEvent)
	case ev.Tenant == "":
		return fmt.Errorf("%w: tenant is empty in event %s: fix the producer of the record", errInvalidEvent, ev.EventID)
	case ev.Attachments < 0 || ev.Warnings < 0:
		return fmt.Errorf("%w: negative count in event %s (attachments %d, warnings %d): fix the producer of the record", errInvalidEvent, ev.EventID, ev.Attachments, ev.Warnings)
	}
	for kind, n := range ev.PII {
		if n < 0 {
			return fmt.Errorf("%w: negative PII count %d for kind %q in event %s: fix the producer of the record", errInvalidEvent, n, kind, ev.EventID)
		}
	}
	if err := checkDateTime("receivedAt", ev.ReceivedAt, ev.EventID); err != nil {
		return err
	}
	return checkDateTime("decidedAt", ev.DecidedAt, ev.EventID)
}

// checkDateTime rejects a time that a ClickHouse DateTime cannot hold: it
// stores whole seconds since the Unix epoch in 32 unsigned bits.
func checkDateTime(field string, t time.Time, eventID string) error {
	if s := t.Unix(); s < 0 || s > math.MaxUint32 {
		return fmt.Errorf("%w: %s %s in event %s is outside the ClickHouse DateTime range (1970-01-01 to 2106-02-07 UTC): fix the producer of the record",
			errInvalidEvent, field, t.UTC().Format(time.RFC3339), eventID)
	}
	return nil
}

// piiColumns splits the PII counts into sorted kinds, their counts and the
// total of all counts. checkEvent has rejected negative counts.
func piiColumns(pii map[string]int32) (kinds []string, counts []uint32, total uint64) {
	kinds = make([]string, 0, len(pii))
	for kind := range pii {
		kinds = append(kinds, kind)
	}
	slices.Sort(kinds)

	counts = make([]uint32, len(kinds))
	for i, kind := range kinds {
		counts[i] = uint32(pii[kind])
		total += uint64(counts[i])
	}
	return kinds, counts, total
}

// topLabel returns the label with the highest probability, the first one
// on a tie, or "" and 0 when there is none.
func topLabel(scores []schemas.LabelScore) (string, float64) {
	if len(scores) == 0 {
		return "", 0
	}
	best := scores[0]
	for _, s := range scores[1:] {
		if s.Probability > best.Probability {
			best = s
		}
	}
	return best.Label, best.Probability
}

// topLabelColumns splits the top labels into two parallel arrays, never
// nil, in the order of the decision.
func topLabelColumns(scores []schemas.LabelScore) (labels []string, probabilities []float64) {
	labels = make([]string, len(scores))
	probabilities = make([]float64, len(scores))
	for i, s := range scores {
		labels[i] = s.Label
		probabilities[i] = s.Probability
	}
	return labels, probabilities
}

// values returns the column values of r in the order of columns, with
// insertedAt as the insert time.
func (r *row) values(insertedAt time.Time) []any {
	return []any{
		r.EventID,
		r.Tenant,
		r.MessageID,
		r.TicketRef,
		r.Queue,
		r.Priority,
		r.Tags,
		r.ReasonKind,
		r.RuleID,
		r.RulesetVersion,
		r.ModelVersion,
		r.TopLabel,
		r.TopProbability,
		r.TopLabels,
		r.TopProbabilities,
		r.Threshold,
		boolToUInt8(r.Duplicate),
		boolToUInt8(r.FollowUp),
		r.PIIKinds,
		r.PIICounts,
		r.PIITotal,
		r.Source,
		r.SenderDomain,
		r.Attachments,
		r.Warnings,
		r.ReceivedAt,
		r.DecidedAt,
		insertedAt,
		r.DecidedMs,
		insertedAt.Sub(r.ReceivedAt).Milliseconds(),
		r.Version,
	}
}

func boolToUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
