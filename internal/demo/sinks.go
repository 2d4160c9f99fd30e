package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/clickhouse"
	"mailtriage/connectors/postgres"
	"mailtriage/connectors/slack"
	"mailtriage/topics"
)

// SinkConfig selects the sinks that the demo runs beside the processor.
// Each sink with a non-empty address runs in the demo's process with a
// consumer group of its own, named for the run, that starts at the end of
// its topic as it was before the import. So a sink reads only the records
// of this run, also on a cluster with earlier data.
type SinkConfig struct {
	// PostgresDSN enables the PostgreSQL ticket sink. Its tables, and the
	// Slack delivery ledger, go into the first schema of the DSN's
	// search_path. Empty runs no PostgreSQL sink.
	PostgresDSN string

	// ClickHouseAddr is the host:port of the ClickHouse native protocol.
	// It enables the ClickHouse analytics sink. Empty runs none.
	ClickHouseAddr string
	// ClickHouseDatabase holds the decisions table. Default
	// clickhouse.DefaultDatabase ("mailtriage").
	ClickHouseDatabase string
	// ClickHouseTable is the decisions table. Default
	// clickhouse.DefaultTable ("decisions").
	ClickHouseTable string
	// ClickHouseUser is the ClickHouse user. Default
	// clickhouse.DefaultUsername ("default").
	ClickHouseUser string
	// ClickHousePassword is the password of ClickHouseUser; empty for
	// none. Never logged.
	ClickHousePassword string

	// SlackWebhook is the incoming-webhook URL that the notifications of
	// the demo's tenant go to. It enables the Slack sink. The delivery
	// ledger is kept in PostgreSQL when PostgresDSN is set, and in memory
	// otherwise. Never logged.
	SlackWebhook string

	// RunID names the sinks' consumer groups,
	// "mailtriage-demo-RUNID-postgres" and so on. Default: 8 random hex
	// digits.
	RunID string
}

// Enabled reports whether any sink is configured.
func (c SinkConfig) Enabled() bool {
	return c.PostgresDSN != "" || c.ClickHouseAddr != "" || c.SlackWebhook != ""
}

// groupFor returns the consumer group of one sink of the run.
func (c SinkConfig) groupFor(kind string) string {
	return "mailtriage-demo-" + c.RunID + "-" + kind
}

func (c *SinkConfig) setDefaults() error {
	if c.RunID == "" {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("creating the run ID of the sinks' consumer groups: %w", err)
		}
		c.RunID = hex.EncodeToString(b)
	}
	if c.ClickHouseDatabase == "" {
		c.ClickHouseDatabase = clickhouse.DefaultDatabase
	}
	if c.ClickHouseTable == "" {
		c.ClickHouseTable = clickhouse.DefaultTable
	}
	if c.ClickHouseUser == "" {
		c.ClickHouseUser = clickhouse.DefaultUsername
	}
	return nil
}

// sinkRun is the set of sinks of one demo run and what the demo needs to
// check that they caught up.
type sinkRun struct {
	cfg     SinkConfig
	tenant  string
	brokers []string
	log     *slog.Logger

	// start holds the end offsets of the analytics, tickets and
	// notifications topics before the import. Every sink group starts there.
	start kadm.ListedOffsets

	pool   *pgxpool.Pool // nil without PostgresDSN
	ledger slack.Ledger  // nil without SlackWebhook

	runners []sinkRunner

	errMu sync.Mutex // guards err
	err   error      // first error a sink stopped with
}

// sinkRunner is one running sink: its Run, its Close and the goroutine
// that drives it.
type sinkRunner struct {
	name  string
	run   func(context.Context) error
	close func()
}

// newSinkRun lists the start offsets of the sinks' topics and seeds each
// sink's consumer group with them. It returns nil when no sink is
// configured.
func newSinkRun(ctx context.Context, adm *kadm.Client, brokers []string, cfg Config) (*sinkRun, error) {
	sc := cfg.Sinks
	if !sc.Enabled() {
		return nil, nil
	}
	if err := sc.setDefaults(); err != nil {
		return nil, err
	}
	s := &sinkRun{cfg: sc, tenant: cfg.Tenant, brokers: brokers, log: cfg.Logger.With("component", "demo-sinks", "run", sc.RunID)}

	start, err := adm.ListEndOffsets(ctx, topics.Analytics, topics.Tickets, topics.Notifications)
	if err == nil {
		err = start.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing the end offsets of the sinks' topics: %w", err)
	}
	s.start = start

	if sc.PostgresDSN != "" {
		if err := s.preparePostgres(ctx); err != nil {
			s.close()
			return nil, err
		}
	}
	if err := s.prepareKafkaGroups(ctx, adm); err != nil {
		s.close()
		return nil, err
	}
	if err := s.prepareSinks(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// preparePostgres opens the demo's pool, migrates the ticket tables and
// the Slack ledger, and seeds the PostgreSQL sink's stored offsets.
func (s *sinkRun) preparePostgres(ctx context.Context) error {
	pool, err := pgxpool.New(ctx, s.cfg.PostgresDSN)
	if err != nil {
		return fmt.Errorf("invalid --postgres connection string: %w", err)
	}
	s.pool = pool

	if _, err := postgres.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("preparing the PostgreSQL tables: %w", err)
	}
	next := make(map[int32]int64)
	s.start.Each(func(o kadm.ListedOffset) {
		if o.Topic == topics.Tickets {
			next[o.Partition] = o.Offset
		}
	})
	if err := postgres.SeedOffsets(ctx, pool, s.cfg.groupFor("postgres"), topics.Tickets, next); err != nil {
		return err
	}

	if s.cfg.SlackWebhook != "" {
		schema, err := currentSchema(ctx, pool)
		if err != nil {
			return err
		}
		if err := slack.Migrate(ctx, pool, schema); err != nil {
			return fmt.Errorf("preparing the Slack delivery ledger: %w", err)
		}
		s.ledger = slack.NewPostgresLedger(pool, schema)
	}
	return nil
}

// currentSchema returns the schema that unqualified CREATE TABLE writes
// to: the first existing schema of the connection's search_path.
func currentSchema(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var schema *string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("reading the current PostgreSQL schema: %w", err)
	}
	if schema == nil {
		return "", errors.New("no schema of the search_path in --postgres exists: create it, or drop search_path from the connection string")
	}
	return *schema, nil
}

// prepareKafkaGroups commits the start offsets for the groups of the
// ClickHouse and Slack sinks, which keep their positions in Kafka.
func (s *sinkRun) prepareKafkaGroups(ctx context.Context, adm *kadm.Client) error {
	seed := func(group, topic string) error {
		offsets := s.start.Offsets()
		offsets.KeepFunc(func(o kadm.Offset) bool { return o.Topic == topic })
		if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
			return fmt.Errorf("setting the start offsets of consumer group %s: %w", group, err)
		}
		return nil
	}
	if s.cfg.ClickHouseAddr != "" {
		if err := seed(s.cfg.groupFor("clickhouse"), topics.Analytics); err != nil {
			return err
		}
	}
	if s.cfg.SlackWebhook != "" {
		if err := seed(s.cfg.groupFor("slack"), topics.Notifications); err != nil {
			return err
		}
	}
	return nil
}

// prepareSinks creates the configured sinks.
func (s *sinkRun) prepareSinks() error {
	kafkaOpts := []kgo.Opt{kgo.SeedBrokers(s.brokers...)}

	if s.cfg.PostgresDSN != "" {
		sink, err := postgres.New(postgres.Config{
			DSN:       s.cfg.PostgresDSN,
			KafkaOpts: kafkaOpts,
			Group:     s.cfg.groupFor("postgres"),
			Logger:    s.log,
		})
		if err != nil {
			return err
		}
		s.runners = append(s.runners, sinkRunner{name: "postgres", run: sink.Run, close: sink.Close})
	}

	if s.cfg.ClickHouseAddr != "" {
		sink, err := clickhouse.New(clickhouse.Config{
			Addr:      s.cfg.ClickHouseAddr,
			Database:  s.cfg.ClickHouseDatabase,
			Table:     s.cfg.ClickHouseTable,
			Username:  s.cfg.ClickHouseUser,
			Password:  s.cfg.ClickHousePassword,
			KafkaOpts: kafkaOpts,
			Group:     s.cfg.groupFor("clickhouse"),
			Logger:    s.log,
		})
		if err != nil {
			return err
		}
		s.runners = append(s.runners, sinkRunner{name: "clickhouse", run: sink.Run, close: func() { _ = sink.Close() }})
	}

	if s.cfg.SlackWebhook != "" {
		if s.ledger == nil {
			s.ledger = slack.NewMemoryLedger()
		}
		sink, err := slack.New(slack.Config{
			ClientOpts: kafkaOpts,
			Group:      s.cfg.groupFor("slack"),
			Webhooks:   slack.Webhooks{Tenants: map[string]string{s.tenant: s.cfg.SlackWebhook}},
			Ledger:     s.ledger,
			Logger:     s.log,
		})
		if err != nil {
			return fmt.Errorf("--slack-webhook: %w", err)
		}
		s.runners = append(s.runners, sinkRunner{name: "slack", run: sink.Run, close: sink.Close})
	}
	return nil
}

// start runs every sink in its own goroutine and returns the function that
// stops them, waits for them and releases what newSinkRun opened.
func (s *sinkRun) startAll(ctx context.Context) func() {
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, r := range s.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.run(runCtx)
			if err != nil && runCtx.Err() == nil {
				s.log.Error("sink stopped", "sink", r.name, "error", err)
				s.fail(fmt.Errorf("the %s sink stopped: %w", r.name, err))
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		s.close()
	}
}

// fail records the first error a sink stopped with.
func (s *sinkRun) fail(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// failure returns the first error a sink stopped with, or nil.
func (s *sinkRun) failure() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// close closes the sinks and the demo's pool. It is safe to call more than
// once.
func (s *sinkRun) close() {
	for _, r := range s.runners {
		r.close()
	}
	s.runners = nil
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
}
