// Package processors holds the steps every inbound message passes through:
// dedupe, redact, classify and route. Each is a plain Go type that works
// without Kafka; the runner in processors/runner drives them inside Kafka
// transactions.
package processors

import (
	"context"
	"fmt"

	"mailtriage/internal/state"
	"mailtriage/schemas"
)

// Position locates the input record of a message. It is zero when the
// message did not come from Kafka.
type Position struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Decision is the routing outcome the chain reaches for a message.
type Decision struct {
	Queue         string
	Priority      string
	Tags          []string
	TicketRef     string
	FollowUp      bool
	SkipAutoReply bool
	Reason        schemas.Reason

	// LinkedTicketRef is the earlier ticket that a new ticket is linked to,
	// set by Thread when a message replies to a ticket whose participants
	// do not include its sender.
	LinkedTicketRef string

	// AutoReply is set by the AutoReplyGuard stage when the message gets an
	// automatic acknowledgement, so that Outputs emits an AutoReply command.
	AutoReply bool
}

// Message is one inbound email moving through the chain, with what the
// processors learned about it.
type Message struct {
	Email    schemas.InboundEmail
	Position Position
	// State is the store of the input partition the message came from.
	State state.Store
	// Global is the thread index, a table shared by all input partitions
	// (see Thread). Nil outside the runner, and Thread then finds no
	// earlier message and records nothing.
	Global state.Store

	Fingerprint string // set by dedupe
	Duplicate   bool   // set by dedupe when the message was seen before
	// Redact sets Redacted to true. Outputs then redacts only the short
	// excerpt again, not the whole body, because redacting redacted text
	// changes nothing.
	Redacted bool
	Decision Decision

	// keywordTexts caches the folded subject and body that rule keyword
	// conditions and Route's priority keywords read.
	keywordTexts foldCache
}

// Result is a processor's verdict on whether the chain goes on with a message.
type Result int

const (
	// Continue passes the message to the next processor.
	Continue Result = iota
	// Stop ends the chain for this message without an error, as dedupe does
	// for a duplicate.
	Stop
)

// Processor is one step of the chain.
type Processor interface {
	// Name is the stage name used in dead letters, logs and metrics.
	Name() string
	// Process inspects or changes m. An error sends the message to the
	// dead-letter topic with this processor's name as the stage.
	Process(ctx context.Context, m *Message) (Result, error)
}

// StageError is a processor failure with the stage it happened in.
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return fmt.Sprintf("%s: %v", e.Stage, e.Err) }

func (e *StageError) Unwrap() error { return e.Err }

// Chain runs processors in order.
type Chain []Processor

// Run passes m through every processor until one stops it or fails. It
// returns the name of the processor that stopped the message ("" when all
// ran) and a *StageError when one failed.
func (c Chain) Run(ctx context.Context, m *Message) (stoppedBy string, err error) {
	for _, p := range c {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		res, err := p.Process(ctx, m)
		if err != nil {
			return p.Name(), &StageError{Stage: p.Name(), Err: err}
		}
		if res == Stop {
			return p.Name(), nil
		}
	}
	return "", nil
}

// Output is one record the chain produces for a message: a value of a
// schemas type (TicketCommand, Notification or DecisionEvent) bound for a
// topic under a key.
type Output struct {
	Topic string
	Key   string
	Value any
}
