package crm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/connectors/ticketing/pgconsumer"
	"mailtriage/schemas"
)

// ErrClosed is returned by Run when the Sink was closed.
var ErrClosed = pgconsumer.ErrClosed

// Sink upserts requesters as CRM contacts. Create it with New, drive it
// with Run and release it with Close.
type Sink struct {
	cfg      Config
	log      *slog.Logger
	api      *api
	consumer *pgconsumer.Consumer
	stats    counters

	// afterCall, when set by a test, runs after each successful CRM call
	// and before its ledger commit; an error stops Run there, as a crash.
	afterCall func() error
}

// Stats counts what a Sink did since it was created.
type Stats struct {
	Created       int64 // contacts created with POST
	Updated       int64 // contacts updated with PUT
	FoundByLookup int64 // contacts a lookup found, so no POST went out
	Replayed      int64 // create commands whose reference the contact already had
	Skipped       int64 // appends and commands without a requester address
	DeadLettered  int64
}

type counters struct {
	created, updated, found, replayed, skipped, deadLettered atomic.Int64
}

// New validates cfg. It connects to nothing: Run does.
func New(cfg Config) (*Sink, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "sink-crm", "system", cfg.System)
	consumer, err := pgconsumer.New(pgconsumer.Config{
		KafkaOpts: cfg.KafkaOpts, Pool: cfg.Pool, Group: cfg.Group, Topic: cfg.Topic, DLQTopic: cfg.DLQTopic,
		Stage: Stage, SpanName: SpanName, MaxPollRecords: cfg.MaxPollRecords, Retry: cfg.Retry,
		Logger: log, Metrics: cfg.Metrics, Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg, log: log, consumer: consumer, api: &api{url: cfg.URL, client: cfg.Client}}, nil
}

// Run migrates the tables and applies the topic's create commands until
// ctx is done, when it returns nil. While PostgreSQL, Kafka or the CRM is
// unreachable it retries with backoff. It returns ErrClosed after Close.
func (s *Sink) Run(ctx context.Context) error {
	s.log.Info("CRM sink starting", "group", s.cfg.Group, "topic", s.cfg.Topic)
	return s.consumer.Run(ctx, s.handle)
}

// Close leaves the group and closes the Kafka client.
func (s *Sink) Close() { s.consumer.Close() }

// Stats returns the counters so far. It is safe to call at any time.
func (s *Sink) Stats() Stats {
	return Stats{
		Created: s.stats.created.Load(), Updated: s.stats.updated.Load(), FoundByLookup: s.stats.found.Load(),
		Replayed: s.stats.replayed.Load(), Skipped: s.stats.skipped.Load(), DeadLettered: s.stats.deadLettered.Load(),
	}
}

// contactRow is the ledger row of one contact.
type contactRow struct {
	state      string
	externalID string
	refs       []string
	fresh      bool // inserted by this handling
}

// handle applies one record by the protocol of the package comment.
func (s *Sink) handle(ctx context.Context, rec *kgo.Record) error {
	var cmd schemas.TicketCommand
	if err := s.cfg.Serde.DecodeContext(ctx, rec.Value, &cmd); err != nil {
		// NOTE: unlike the ticketing sink, a failed schema registry lookup
		// is not retried here: the record goes to the dead-letter topic.
		return s.deadLetter(ctx, rec, "", fmt.Errorf("decoding the TicketCommand: %w", err), 0)
	}
	switch {
	case cmd.EventID == "" || cmd.Tenant == "" || cmd.TicketRef == "":
		return s.deadLetter(ctx, rec, cmd.Tenant, errors.New("the command lacks eventId, tenant or ticketRef: fix the producer"), 0)
	case cmd.Action != "create" || strings.TrimSpace(cmd.Requester.Address) == "":
		s.stats.skipped.Add(1)
		s.cfg.Metrics.Skipped("not_a_new_requester", 1)
		return s.consumer.Finish(ctx, rec, nil)
	}

	hash := AddressHash(cmd.Requester.Address)
	key := ContactKey(cmd.Tenant, hash)
	log := s.log.With("tenant", cmd.Tenant, "ticket_ref", cmd.TicketRef, "event_id", cmd.EventID,
		"partition", rec.Partition, "offset", rec.Offset)
	return s.consumer.KeyLock(ctx, "mailtriage.crm/"+s.cfg.System+"/"+key, func() error {
		return s.upsert(ctx, log, rec, &cmd, hash, key)
	})
}

// upsert attaches cmd's ticket to the requester's contact, creating it
// when needed.
func (s *Sink) upsert(ctx context.Context, log *slog.Logger, rec *kgo.Record, cmd *schemas.TicketCommand, hash, key string) error {
	var row contactRow
	skip, err := s.consumer.Begin(ctx, rec, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		row, err = s.lockRow(ctx, tx, cmd.Tenant, hash)
		return err
	})
	if err != nil {
		return err
	}
	if skip || (row.state == "created" && slices.Contains(row.refs, cmd.TicketRef)) {
		s.stats.replayed.Add(1)
		s.cfg.Metrics.Skipped("replayed", 1)
		if skip {
			return nil
		}
		return s.consumer.Finish(ctx, rec, nil)
	}

	refs := withRef(row.refs, cmd.TicketRef)
	contact := &Contact{
		Email: cmd.Requester.Address, Name: strings.TrimSpace(cmd.Requester.Name), Tenant: cmd.Tenant,
		LastTicketRef: cmd.TicketRef, TicketRefs: refs, IdempotencyKey: key,
	}
	id, attempts, err := s.send(ctx, log, row, contact)
	if err != nil {
		if errors.Is(err, httpjson.ErrStopped) {
			return err
		}
		return s.deadLetter(ctx, rec, cmd.Tenant, fmt.Errorf("CRM: %w", err), attempts)
	}
	if s.afterCall != nil {
		if err := s.afterCall(); err != nil {
			return err
		}
	}

	s.cfg.Metrics.Delivered(cmd.ReceivedAt)
	return s.consumer.Finish(ctx, rec, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE crm_contacts SET state = 'created', external_id = $4,
				ticket_refs = CASE WHEN $5 = ANY(ticket_refs) THEN ticket_refs ELSE ticket_refs || $5 END,
				updated_at = now()
			WHERE system = $1 AND tenant = $2 AND address_hash = $3`, s.cfg.System, cmd.Tenant, hash, id, cmd.TicketRef)
		if err != nil {
			return fmt.Errorf("recording contact %s: %w", id, err)
		}
		return nil
	})
}

// send creates or updates the contact and returns its ID. A new contact
// is POSTed, a contact whose create may have gone out is looked up first,
// and a known contact is PUT.
func (s *Sink) send(ctx context.Context, log *slog.Logger, row contactRow, c *Contact) (string, int, error) {
	id := row.externalID
	onRetry := func(attempt int, wait time.Duration, err error) {
		s.cfg.Metrics.DeliveryError()
		s.cfg.Metrics.Retry()
		log.Warn("CRM call failed; retrying", "attempt", attempt, "retry_in", wait.String(), "error", err)
	}
	lookup := func(ctx context.Context) (bool, error) {
		found, err := s.api.find(ctx, c.IdempotencyKey)
		if found != "" {
			id = found
			s.stats.found.Add(1)
			log.Info("lookup found the contact of an earlier create; not creating it again", "contact_id", found)
		}
		return found != "", err
	}

	if row.state == "creating" && !row.fresh {
		if n, err := s.cfg.Retry.Call(ctx, func(ctx context.Context) error { _, err := lookup(ctx); return err }, nil, onRetry); err != nil {
			return "", n, err
		}
	}
	if id == "" {
		var created bool
		n, err := s.cfg.Retry.Call(ctx, func(ctx context.Context) error {
			newID, err := s.api.create(ctx, c)
			if err == nil {
				id, created = newID, true
			}
			return err
		}, lookup, onRetry)
		if err != nil || created {
			if created {
				s.stats.created.Add(1)
			}
			return id, n, err
		}
	}

	n, err := s.cfg.Retry.Call(ctx, func(ctx context.Context) error { return s.api.update(ctx, id, c) }, nil, onRetry)
	if err == nil {
		s.stats.updated.Add(1)
	}
	return id, n, err
}

// lockRow reads and locks the contact's row, inserting it as 'creating'
// when missing.
func (s *Sink) lockRow(ctx context.Context, tx pgx.Tx, tenant, hash string) (contactRow, error) {
	var r contactRow
	err := tx.QueryRow(ctx, `SELECT state, external_id, ticket_refs FROM crm_contacts
		WHERE system = $1 AND tenant = $2 AND address_hash = $3 FOR UPDATE`, s.cfg.System, tenant, hash).
		Scan(&r.state, &r.externalID, &r.refs)
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("reading a CRM contact of tenant %s: %w", tenant, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO crm_contacts (system, tenant, address_hash, state) VALUES ($1, $2, $3, 'creating')`,
		s.cfg.System, tenant, hash)
	if err != nil {
		return r, fmt.Errorf("recording a new CRM contact of tenant %s: %w", tenant, err)
	}
	return contactRow{state: "creating", fresh: true}, nil
}

// deadLetter writes the dead letter of rec and moves the offset past it.
func (s *Sink) deadLetter(ctx context.Context, rec *kgo.Record, tenant string, cause error, attempts int) error {
	if err := s.consumer.FinishDead(ctx, rec, tenant, cause, attempts, nil); err != nil {
		return err
	}
	s.stats.deadLettered.Add(1)
	return nil
}
