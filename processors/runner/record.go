package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/state"
	"mailtriage/processors"
	"mailtriage/schemas"
)

// Stage names the runner itself uses in dead letters, next to the names of
// the chain's processors.
const (
	StageDecode  = "decode"  // the input value is not a valid InboundEmail
	StageChain   = "chain"   // a processor panicked
	StageOutputs = "outputs" // building or encoding the outputs failed
	StageProduce = "produce" // Kafka rejected an output record of the message
)

// recordResult is the outcome of processing one input record.
type recordResult struct {
	records    []*kgo.Record // outputs or one dead letter, in produce order
	deadLetter bool
	duplicate  bool
	stage      string              // the stage that failed, for a dead letter
	message    *processors.Message // the processed message, unless a dead letter
}

// processRecord decodes rec, runs the chain on it with the partition's
// store and returns the records to produce. Only a canceled ctx makes it
// return an error: every failure of the record itself becomes a dead letter,
// so the partition goes on. State writes of a record that ends as a dead
// letter are discarded, in the partition's store and in the thread index,
// so a fixed copy replayed later is not taken for a duplicate.
func (r *Runner) processRecord(ctx context.Context, rec *kgo.Record, store state.Store, now time.Time) (recordResult, error) {
	pos := processors.Position{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}

	if entry, ok := r.poison.get(pos); ok {
		return r.deadLetterResult(rec, nil, StageProduce, entry.err, now, entry.attempts), nil
	}

	var email schemas.InboundEmail
	if err := r.cfg.Serde.DecodeContext(ctx, rec.Value, &email); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return recordResult{}, ctxErr
		}
		// NOTE: a schema registry that cannot be reached while looking up a
		// schema ID not seen before (schemas.ErrRegistry) also sends the
		// record to the dead-letter topic, from where it can be replayed.
		return r.deadLetterResult(rec, nil, StageDecode, err, now, 1), nil
	}

	view := newRecordView(store)
	globalView := newRecordView(r.global)
	m := &processors.Message{Email: email, Position: pos, State: view, Global: globalView}
	if err := runChain(ctx, r.cfg.Chain, m); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return recordResult{}, ctxErr
		}
		stage, cause := StageChain, err
		var se *processors.StageError
		if errors.As(err, &se) {
			stage, cause = se.Stage, se.Err
		}
		return r.deadLetterResult(rec, &email, stage, cause, now, 1), nil
	}

	records, err := r.encodeOutputs(m, now)
	if err != nil {
		return r.deadLetterResult(rec, &email, StageOutputs, err, now, 1), nil
	}

	view.apply()
	globalView.apply()
	return recordResult{records: records, duplicate: m.Duplicate, message: m}, nil
}

// runChain runs chain on m and turns a panic of a processor into an error,
// so that one bad message cannot stop the partition.
func runChain(ctx context.Context, chain processors.Chain, m *processors.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("processor panicked: %v", p)
		}
	}()
	_, err = chain.Run(ctx, m)
	return err
}

// encodeOutputs builds and encodes every output of m. It returns no
// records when any one fails, so a message never half-succeeds.
func (r *Runner) encodeOutputs(m *processors.Message, now time.Time) (records []*kgo.Record, err error) {
	defer func() {
		if p := recover(); p != nil {
			records, err = nil, fmt.Errorf("building outputs panicked: %v", p)
		}
	}()

	outputs := r.cfg.Outputs(m, now)
	records = make([]*kgo.Record, 0, len(outputs))
	for i, o := range outputs {
		if o.Topic == "" {
			return nil, fmt.Errorf("output %d (%T) has no topic", i, o.Value)
		}
		value, err := r.cfg.Serde.Encode(o.Topic, o.Value)
		if err != nil {
			return nil, fmt.Errorf("encoding output %d (%T) for %s: %w", i, o.Value, o.Topic, err)
		}
		records = append(records, &kgo.Record{Topic: o.Topic, Key: []byte(o.Key), Value: value})
	}
	return records, nil
}

// recordView is the store given to the chain for one record. Reads fall
// through to the partition's store, and writes stay apart until apply
// copies them there.
type recordView struct {
	parent state.Store
	writes map[string][]byte // nil value marks a deletion
	order  []string
}

func newRecordView(parent state.Store) *recordView {
	return &recordView{parent: parent, writes: make(map[string][]byte)}
}

// Get returns the value under key.
func (v *recordView) Get(key string) ([]byte, bool) {
	if w, ok := v.writes[key]; ok {
		return w, w != nil
	}
	return v.parent.Get(key)
}

// Put stores value under key until apply.
func (v *recordView) Put(key string, value []byte) {
	if value == nil {
		value = []byte{}
	}
	v.note(key)
	v.writes[key] = value
}

// Delete removes key until apply.
func (v *recordView) Delete(key string) {
	v.note(key)
	v.writes[key] = nil
}

func (v *recordView) note(key string) {
	if _, ok := v.writes[key]; !ok {
		v.order = append(v.order, key)
	}
}

// apply copies the writes to the parent store in the order they were made.
func (v *recordView) apply() {
	for _, key := range v.order {
		if w := v.writes[key]; w == nil {
			v.parent.Delete(key)
		} else {
			v.parent.Put(key, w)
		}
	}
}
