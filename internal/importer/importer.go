package importer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/files"
	"mailtriage/connectors/ingress"
	"mailtriage/internal/ingest"
	"mailtriage/internal/tracing"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// DefaultConcurrency is how many messages Run prepares and publishes at
// once when Config.Concurrency is zero.
const DefaultConcurrency = 8

// maxKeptFailures bounds Totals.Failures, so that an import where every
// message fails does not keep one error per message.
const maxKeptFailures = 20

// Publisher is the part of ingress.Publisher that Run uses.
type Publisher interface {
	Publish(ctx context.Context, email *schemas.InboundEmail) error
	PublishDeadLetter(ctx context.Context, key string, dl *schemas.DeadLetter) error
}

// Config configures Run.
type Config struct {
	// Paths are .eml files, folders, mbox files and Maildirs, read as
	// files.Walk reads them. Required.
	Paths []string
	// Tenant owns the imported mail. Required; see ingest.ValidateTenant.
	Tenant string
	// Store keeps the raw MIME and attachments. Required.
	Store blobstore.Store
	// Publisher puts the records on the inbound and dead-letter topics.
	// Required.
	Publisher Publisher
	// Concurrency is how many messages are prepared and published at once.
	// Default DefaultConcurrency.
	Concurrency int
	// Progress receives the count of finished messages. Default: none.
	Progress Progress
	// Now returns the time of receipt. Default time.Now.
	Now func() time.Time
}

// Totals counts the outcome of every message of an import.
type Totals struct {
	// Total is the number of messages found under the paths.
	Total int
	// Imported messages are on the inbound topic.
	Imported int
	// DeadLettered messages are on the dead-letter topic, because they
	// could not be parsed, are not mail, or Kafka rejected their record.
	DeadLettered int
	// Failed messages are on neither topic, because storing or publishing
	// them failed.
	Failed int
	// Failures lists the first failed messages with their errors.
	Failures []Failure
}

// Finished returns how many messages have an outcome.
func (t Totals) Finished() int { return t.Imported + t.DeadLettered + t.Failed }

// NotAttempted returns how many messages were not read because the import
// stopped early.
func (t Totals) NotAttempted() int { return t.Total - t.Finished() }

// Failure is one message that reached neither topic.
type Failure struct {
	Name string
	Err  error
}

// Run imports every message under cfg.Paths and returns the totals. A
// message that cannot be parsed goes to the dead-letter topic, and so does
// one whose record Kafka rejects, so one message never stops the import.
//
// Run stops early, with an error and the totals so far, when Kafka is
// unavailable (ingress.ErrUnavailable), because every later message would
// fail the same way, when reading the paths fails, or when ctx ends. A
// message whose storage or publishing failed otherwise counts in
// Totals.Failed and the import goes on.
func Run(ctx context.Context, cfg Config) (Totals, error) {
	if err := cfg.validate(); err != nil {
		return Totals{}, err
	}
	total, err := files.Count(cfg.Paths)
	if err != nil {
		return Totals{}, err
	}
	if total == 0 {
		return Totals{}, fmt.Errorf("no files found under %s: inside folders, hidden entries and files named README*, LICENSE* or COPYING* are skipped; pass a folder or file that contains mail",
			strings.Join(cfg.Paths, ", "))
	}

	run := &run{cfg: cfg, totals: Totals{Total: total}}
	cfg.Progress.Start(total)
	err = run.walk(ctx)
	cfg.Progress.Finish(run.totals.Finished())
	return run.totals, err
}

func (cfg *Config) validate() error {
	if len(cfg.Paths) == 0 {
		return errors.New("no mail paths given; pass .eml files, folders, mbox files or Maildirs")
	}
	if err := ingest.ValidateTenant(cfg.Tenant); err != nil {
		return err
	}
	if cfg.Store == nil {
		return errors.New("importer: Store is nil; pass a blobstore.Store such as blobstore.NewDir")
	}
	if cfg.Publisher == nil {
		return errors.New("importer: Publisher is nil; pass an ingress.Publisher")
	}
	if cfg.Concurrency < 0 {
		return fmt.Errorf("invalid concurrency %d: use 1 or more, or 0 for the default of %d", cfg.Concurrency, DefaultConcurrency)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Progress == nil {
		cfg.Progress = noProgress{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return nil
}

// run is one import in progress.
type run struct {
	cfg Config

	mu      sync.Mutex // guards totals and stopErr
	totals  Totals
	stopErr error // first error that stops the import

	// publishing is held shared by every publish, and exclusively by the
	// second try of a rejected record. A broker rejects a whole batch for
	// one record that is too large, so the record that caused it is sent
	// again with no other record in flight, and only that one becomes a
	// dead letter.
	publishing sync.RWMutex
}

// walk reads the messages and hands them to cfg.Concurrency workers. The
// walk stops at the first error that stops the import.
func (r *run) walk(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	items := make(chan files.Item)
	var workers sync.WaitGroup
	for range r.cfg.Concurrency {
		workers.Go(func() {
			for item := range items {
				if err := r.importOne(ctx, item); err != nil {
					cancel(r.stop(err))
				}
			}
		})
	}

	walkErr := files.Walk(ctx, r.cfg.Paths, func(item files.Item) error {
		select {
		case items <- item:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(items)
	workers.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopErr != nil {
		return r.stopErr
	}
	return walkErr
}

// stop records err as the reason the import stops and returns it; only the
// first such error is kept.
func (r *run) stop(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopErr == nil {
		r.stopErr = err
	}
	return r.stopErr
}

// importOne prepares and publishes one message and counts its outcome. It
// returns an error only when the import must stop.
func (r *run) importOne(ctx context.Context, item files.Item) error {
	ctx, span := tracing.Start(ctx, tracing.SpanImportMessage, tracing.Tenant(r.cfg.Tenant))
	defer span.End()
	now := r.cfg.Now()
	rec, err := Prepare(ctx, item.Name, item.Raw, PrepareOptions{
		Tenant: r.cfg.Tenant, Source: schemas.SourceImport, Store: r.cfg.Store, Now: now,
	})
	if err != nil {
		r.fail(item.Name, err)
		return nil
	}

	deadLettered, err := r.publish(ctx, rec, now)
	switch {
	case err == nil && deadLettered:
		r.count(func(t *Totals) { t.DeadLettered++ })
	case err == nil:
		r.count(func(t *Totals) { t.Imported++ })
	case errors.Is(err, ingress.ErrUnavailable):
		r.fail(item.Name, err)
		return fmt.Errorf("stopping the import at %s: %w", item.Name, err)
	case ctx.Err() != nil:
		// Another worker stopped the import; this message is not counted
		// as failed, because nothing is wrong with it.
		return nil
	default:
		r.fail(item.Name, err)
	}
	return nil
}

// publish produces the record of rec, or a dead letter in its place when
// Kafka rejects it. It reports whether a dead letter was published.
func (r *run) publish(ctx context.Context, rec *Record, now time.Time) (bool, error) {
	r.publishing.RLock()
	err := r.publishOnce(ctx, rec)
	r.publishing.RUnlock()
	if err == nil || !IsRejected(err) {
		return rec.DeadLetter != nil, err
	}

	r.publishing.Lock()
	defer r.publishing.Unlock()
	err = r.publishOnce(ctx, rec)
	if err == nil || !IsRejected(err) {
		return rec.DeadLetter != nil, err
	}
	// The Publisher does not return the size of the record it encoded, so
	// the dead letter names none.
	topic := topics.Inbound
	if rec.DeadLetter != nil {
		topic = topics.DLQ
	}
	return true, r.cfg.Publisher.PublishDeadLetter(ctx, rec.DeadLetterKey(), rec.Replacement(topic, 0, err, now))
}

func (r *run) publishOnce(ctx context.Context, rec *Record) error {
	if rec.DeadLetter != nil {
		return r.cfg.Publisher.PublishDeadLetter(ctx, rec.DeadLetterKey(), rec.DeadLetter)
	}
	return r.cfg.Publisher.Publish(ctx, rec.Email)
}

func (r *run) fail(name string, err error) {
	r.count(func(t *Totals) {
		t.Failed++
		if len(t.Failures) < maxKeptFailures {
			t.Failures = append(t.Failures, Failure{Name: name, Err: err})
		}
	})
}

// count applies change to the totals and reports the progress.
func (r *run) count(change func(*Totals)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	change(&r.totals)
	r.cfg.Progress.Update(r.totals.Finished())
}
