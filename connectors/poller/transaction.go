package poller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/importer"
	"mailtriage/internal/tracing"
	"mailtriage/topics"
)

// endTimeout bounds EndTransaction. Its context is not the caller's,
// because a canceled commit leaves the outcome unknown.
const endTimeout = 30 * time.Second

// errSimulatedCrash wraps the error of the beforeCommit test hook.
var errSimulatedCrash = errors.New("simulated crash before the commit")

// transactionError is a failed Kafka transaction or producer session. The
// poller then starts a new session and reads the committed cursor again.
type transactionError struct{ err error }

func (e *transactionError) Error() string { return e.err.Error() }

func (e *transactionError) Unwrap() error { return e.err }

// isFatalKafka reports whether err means that a new producer session
// cannot help: another poller took over the transactional ID, or the
// principal may not use it or the topics.
func isFatalKafka(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) ||
		errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// commitPage produces the records of prepared and the cursor record next
// in one transaction and commits it. A record that Kafka rejects, such as
// one above the topic's max.message.bytes, is replaced by its dead letter
// and the page is produced again in a new transaction. It returns the
// number of dead letters committed.
func (p *Poller) commitPage(ctx context.Context, prepared []*importer.Record, next cursorState, now time.Time) (int, error) {
	p.mu.Lock()
	producer := p.producer
	p.mu.Unlock()
	if producer == nil {
		return 0, &transactionError{err: errors.New("no producer session")}
	}

	records := make([]*kgo.Record, len(prepared))
	for i, rec := range prepared {
		r, err := p.encode(rec)
		if err != nil && rec.Email != nil {
			r, err = p.encodeDeadLetter(rec, rec.Replacement(topics.Inbound, 0, err, now))
		}
		if err != nil {
			return 0, err
		}
		tracing.Inject(ctx, r)
		records[i] = r
	}
	cursorRec, err := cursorRecord(p.key, next)
	if err != nil {
		return 0, err
	}

	// A broker rejects a whole batch for one record that is too large, so
	// after a rejection the records are sent one per batch, and a record
	// rejected alone is replaced by its dead letter. Each such attempt
	// replaces one record, which bounds the attempts.
	oneByOne := false
	for replaced := 0; replaced <= len(records); {
		rejected, err := p.produceInTransaction(ctx, producer, records, cursorRec, next.Pages, oneByOne)
		if err != nil {
			return 0, err
		}
		if len(rejected) == 0 {
			return countDeadLetters(records), nil
		}
		if !oneByOne {
			oneByOne = true
			continue
		}
		for i, cause := range rejected {
			rec := prepared[i]
			p.log.Warn("record rejected, replacing it with a dead letter", "key_hash", keyHash(rec.Key()), "topic", records[i].Topic, "bytes", len(records[i].Value), "error", cause)
			replacement, err := p.encodeDeadLetter(rec, rec.Replacement(records[i].Topic, len(records[i].Value), cause, now))
			if err != nil {
				return 0, err
			}
			tracing.Inject(ctx, replacement)
			records[i] = replacement
			replaced++
		}
	}
	return 0, &transactionError{err: fmt.Errorf("Kafka rejected the dead letters that replaced the rejected records of page %d", next.Pages)}
}

// produceInTransaction produces records and cursorRec in one transaction.
// It commits when every record was accepted. Otherwise it aborts and
// returns the index of each record that Kafka rejected with the cause, or
// an error for any other failure. With oneByOne, each record is produced
// in a batch of its own and the first failure ends the attempt, so a
// rejected record is known to be rejected for itself.
func (p *Poller) produceInTransaction(ctx context.Context, producer *kgo.Client, records []*kgo.Record, cursorRec *kgo.Record, page int64, oneByOne bool) (map[int]error, error) {
	if err := producer.BeginTransaction(); err != nil {
		return nil, &transactionError{err: fmt.Errorf("beginning the transaction of page %d: %w", page, err)}
	}

	// kgo sets fields of the records it produces, so every attempt gets
	// fresh copies.
	index := make(map[*kgo.Record]int, len(records)+1)
	batch := make([]*kgo.Record, 0, len(records)+1)
	for i, r := range append(records, cursorRec) {
		c := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
		index[c] = i
		batch = append(batch, c)
	}

	rejected := map[int]error{}
	var produceErr error
	check := func(results kgo.ProduceResults) {
		for _, res := range results {
			i := index[res.Record]
			switch {
			case res.Err == nil:
			case i < len(records) && importer.IsRejected(res.Err):
				rejected[i] = res.Err
			case produceErr == nil:
				produceErr = fmt.Errorf("producing page %d to %s: %w", page, res.Record.Topic, res.Err)
			}
		}
	}
	if oneByOne {
		for _, r := range batch {
			check(producer.ProduceSync(ctx, r))
			if produceErr != nil || len(rejected) > 0 {
				break
			}
		}
	} else {
		check(producer.ProduceSync(ctx, batch...))
	}

	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	if produceErr == nil && len(rejected) == 0 {
		if p.beforeCommit != nil {
			if err := p.beforeCommit(page); err != nil {
				return nil, fmt.Errorf("%w: %w", errSimulatedCrash, err)
			}
		}
		if err := producer.EndTransaction(endCtx, kgo.TryCommit); err != nil {
			return nil, &transactionError{err: fmt.Errorf("committing page %d: %w", page, err)}
		}
		return nil, nil
	}

	if err := producer.EndTransaction(endCtx, kgo.TryAbort); err != nil {
		return nil, &transactionError{err: errors.Join(produceErr, fmt.Errorf("aborting the transaction of page %d: %w", page, err))}
	}
	if produceErr != nil {
		return nil, &transactionError{err: produceErr}
	}
	return rejected, nil
}

func countDeadLetters(records []*kgo.Record) int {
	n := 0
	for _, r := range records {
		if r.Topic == topics.DLQ {
			n++
		}
	}
	return n
}

// keyHash returns the first 12 hex digits of the SHA-256 of a record key,
// which identifies a message in logs without showing its ID.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:6])
}
