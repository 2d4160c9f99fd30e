package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/internal/state"
	"mailtriage/processors"
)

// abortTimeout bounds the abort of the open transaction when Run stops in
// the middle of a batch.
const abortTimeout = 10 * time.Second

// batch is the work of one transaction.
type batch struct {
	stores map[int32]*state.Changelog // stores written in this batch
	global *state.GlobalTable         // the thread index, written by any record
	tally  batchTally
	// metrics collects the batch's metrics until its transaction ends.
	metrics *metrics.Batch

	mu        sync.Mutex // guards failures
	failures  []produceFailure
	processed []processors.Position
}

// produceFailure is a record Kafka rejected, with the input record it came
// from.
type produceFailure struct {
	source processors.Position
	err    error
}

// runBatch processes fetches in one transaction and ends it. It returns an
// error only when Run must stop.
func (r *Runner) runBatch(ctx context.Context, fetches kgo.Fetches) error {
	if err := r.sess.Begin(); err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	b := &batch{
		stores:  make(map[int32]*state.Changelog),
		global:  r.global,
		tally:   batchTally{next: make(map[int32]int64)},
		metrics: r.cfg.Metrics.NewBatch(),
	}
	r.batchMetrics = b.metrics
	now := r.cfg.Now()

	missing := int32(-1) // an input partition without a store, if any
	var parts []kgo.FetchTopicPartition
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if missing >= 0 || p.Topic != r.cfg.InputTopic || len(p.Records) == 0 {
			return
		}
		store := r.stores.get(p.Partition)
		if store == nil {
			missing = p.Partition
			return
		}
		b.stores[p.Partition] = store
		parts = append(parts, p)
	})
	var procErr error
	if missing < 0 {
		procErr = r.processInTimeOrder(ctx, b, parts, now)
	}

	if procErr != nil {
		if ctx.Err() != nil {
			r.abortOnStop(ctx, b)
			return ctx.Err()
		}
		// A test hook simulating a crash: leave the transaction open.
		b.discard()
		return procErr
	}
	if missing >= 0 {
		// The partition was revoked after the poll, or its restore failed;
		// either way the session must not commit its offsets.
		r.log.Info("input partition has no state store; aborting the batch", "partition", missing)
	}

	for _, store := range b.stores {
		for _, rec := range store.Pending() {
			r.produce(ctx, b, rec, processors.Position{})
		}
	}
	for _, rec := range b.global.Pending() {
		r.produce(ctx, b, rec, processors.Position{})
	}
	return r.endBatch(ctx, b, missing < 0)
}

// processInTimeOrder processes the records of parts oldest first by
// record timestamp, keeping each partition's order. A reply and the
// message it replies to are on different partitions. In this order, a
// reply fetched in the same batch as the original finds the original's
// thread index entry, which an order by partition misses whenever the
// reply's partition comes first.
func (r *Runner) processInTimeOrder(ctx context.Context, b *batch, parts []kgo.FetchTopicPartition, now time.Time) error {
	next := make([]int, len(parts)) // index of the next record of each partition
	for {
		pick := -1
		for i, p := range parts {
			if next[i] == len(p.Records) {
				continue
			}
			if pick < 0 || p.Records[next[i]].Timestamp.Before(parts[pick].Records[next[pick]].Timestamp) {
				pick = i
			}
		}
		if pick < 0 {
			return nil
		}

		rec := parts[pick].Records[next[pick]]
		next[pick]++
		if err := r.processOne(ctx, b, rec, b.stores[rec.Partition], now); err != nil {
			return err
		}
	}
}

// processOne processes one input record and produces what it yields.
func (r *Runner) processOne(ctx context.Context, b *batch, rec *kgo.Record, store state.Store, now time.Time) error {
	ctx, span := startRecordSpan(ctx, rec)
	res, err := r.processRecord(ctx, rec, store, now)
	endRecordSpan(ctx, span, res, err)
	if err != nil {
		return err
	}
	pos := processors.Position{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
	for _, out := range res.records {
		r.produce(ctx, b, out, pos)
	}

	observeRecord(b, rec.Topic, res)
	b.processed = append(b.processed, pos)
	b.tally.records++
	b.tally.next[rec.Partition] = max(b.tally.next[rec.Partition], rec.Offset+1)
	if res.deadLetter {
		b.tally.deadLetters++
	} else {
		b.tally.outputs += int64(len(res.records))
	}
	if res.duplicate {
		b.tally.duplicates++
	}

	if r.afterRecord != nil {
		return r.afterRecord(pos)
	}
	return nil
}

// produce sends rec in the open transaction and notes a failure against
// source, the input record it came from (zero for changelog and thread
// index records).
func (r *Runner) produce(ctx context.Context, b *batch, rec *kgo.Record, source processors.Position) {
	r.sess.Produce(ctx, rec, func(rec *kgo.Record, err error) {
		if err == nil {
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		b.failures = append(b.failures, produceFailure{source: source, err: fmt.Errorf("producing to %s: %w", rec.Topic, err)})
	})
}

// endBatch flushes the batch, commits the transaction when every record
// was written and commit is set, and then merges or discards the stores'
// pending writes to match.
func (r *Runner) endBatch(ctx context.Context, b *batch, commit bool) error {
	if err := r.sess.Client().Flush(ctx); err != nil {
		r.abortOnStop(ctx, b)
		return err // only a canceled ctx makes Flush fail
	}

	b.mu.Lock()
	failures := b.failures
	b.mu.Unlock()
	for _, f := range failures {
		r.log.Error("producing a record failed; aborting the batch", "source_topic", f.source.Topic,
			"source_partition", f.source.Partition, "source_offset", f.source.Offset, "error", f.err)
		if f.source.Topic != "" && recordFault(f.err) {
			r.poison.add(f.source, f.err)
			r.cfg.Metrics.Retried(metrics.RetryProduce, 1)
		}
	}
	commit = commit && len(failures) == 0

	committed, err := r.sess.End(ctx, kgo.TransactionEndTry(commit))
	if err != nil {
		b.discard()
		r.stats.aborted()
		b.metrics.Abort()
		return fmt.Errorf("ending the transaction: %w", err)
	}
	if !committed {
		b.discard()
		r.stats.aborted()
		b.metrics.Abort()
		r.log.Warn("transaction aborted; the batch will be polled again", "records", b.tally.records)
		return nil
	}

	for _, store := range b.stores {
		store.Commit()
	}
	b.global.Commit()
	for _, pos := range b.processed {
		r.poison.forget(pos)
	}
	r.stats.committed(&b.tally)
	b.metrics.Commit(time.Now())
	r.log.Debug("transaction committed", "records", b.tally.records, "outputs", b.tally.outputs,
		"dead_letters", b.tally.deadLetters, "duplicates", b.tally.duplicates)
	return nil
}

// abortOnStop aborts the open transaction when Run stops in the middle of
// a batch, so that its records do not hold back the last stable offset
// until the transaction times out.
func (r *Runner) abortOnStop(ctx context.Context, b *batch) {
	b.discard()
	abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if _, err := r.sess.End(abortCtx, kgo.TryAbort); err != nil {
		r.log.Warn("aborting the open transaction on stop failed; the broker aborts it on timeout", "error", err)
		return
	}
	r.stats.aborted()
	b.metrics.Abort()
}

// discard drops the pending writes of every store of the batch and of
// the thread index.
func (b *batch) discard() {
	for _, store := range b.stores {
		store.Abort()
	}
	b.global.Abort()
}
