package ticketing

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"mailtriage/connectors/ticketing/pgconsumer"
)

// ErrClosed is returned by Run when the Sink was closed.
var ErrClosed = pgconsumer.ErrClosed

// Sink applies TicketCommand records to an external ticketing system.
// Create it with New, drive it with Run and release it with Close.
type Sink struct {
	cfg      Config
	log      *slog.Logger
	consumer *pgconsumer.Consumer
	stats    counters

	// afterCall, when set by a test, runs after each successful external
	// create or comment and before its ledger commit. A non-nil error
	// stops Run there, which leaves the ledger as a crash would.
	afterCall func(op string) error
}

// New validates cfg. It connects to nothing: Run does.
func New(cfg Config) (*Sink, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "sink-ticketing", "target", cfg.Target.Kind(), "system", cfg.System)
	consumer, err := pgconsumer.New(pgconsumer.Config{
		KafkaOpts:      cfg.KafkaOpts,
		Pool:           cfg.Pool,
		Group:          cfg.Group,
		Topic:          cfg.Topic,
		DLQTopic:       cfg.DLQTopic,
		Stage:          Stage,
		SpanName:       SpanName,
		MaxPollRecords: cfg.MaxPollRecords,
		Retry:          cfg.Retry,
		Logger:         log,
		Metrics:        cfg.Metrics,
		Now:            cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg, log: log, consumer: consumer}, nil
}

// Run migrates the tables and applies the topic's commands until ctx is
// done, when it returns nil. While PostgreSQL, Kafka or the target is
// unreachable it retries with backoff. It returns ErrClosed after Close.
func (s *Sink) Run(ctx context.Context) error {
	s.log.Info("ticketing sink starting", "group", s.cfg.Group, "topic", s.cfg.Topic)
	err := s.consumer.Run(ctx, s.handle)
	if err != nil && !errors.Is(err, ErrClosed) {
		s.log.Error("ticketing sink stopped", "error", err)
	}
	return err
}

// Close leaves the group and closes the Kafka client. It is safe to call
// more than once and concurrently with Run.
func (s *Sink) Close() { s.consumer.Close() }

// Stats counts what a Sink did since it was created.
type Stats struct {
	Created       int64 // external tickets created
	Commented     int64 // comments posted
	FoundByLookup int64 // tickets or comments a lookup found, so none was sent again
	Replayed      int64 // commands skipped because the ledger already had them
	DeadLettered  int64 // commands sent to the dead-letter topic
	Retries       int64 // calls repeated after a transient failure
}

// Stats returns the counters so far. It is safe to call at any time.
func (s *Sink) Stats() Stats {
	return Stats{
		Created:       s.stats.created.Load(),
		Commented:     s.stats.commented.Load(),
		FoundByLookup: s.stats.found.Load(),
		Replayed:      s.stats.replayed.Load(),
		DeadLettered:  s.stats.deadLettered.Load(),
		Retries:       s.stats.retries.Load(),
	}
}

type counters struct {
	created, commented, found, replayed, deadLettered, retries atomic.Int64
}
