package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/internal/tracing"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// EnvToken is the environment variable that holds the bearer token when no
// token file is given.
const EnvToken = "MAILTRIAGE_POLL_TOKEN"

// ErrClosed is returned by Run when the Poller was closed while it ran.
var ErrClosed = errors.New("poller closed")

// connectTimeout bounds the start of a Kafka session: initializing the
// transactional ID and reading the committed cursor.
const connectTimeout = 2 * time.Minute

// Poller polls one cursor API for one tenant. Create it with New, drive it
// with Run and release it with Close.
type Poller struct {
	cfg      Config
	log      *slog.Logger
	endpoint *url.URL
	shownURL string // endpoint without query, for logs and errors
	urlHash  string
	key      string // key of the cursor record

	restore *kgo.Client // read_committed consumer of the cursor topic

	mu       sync.Mutex // guards producer and closed
	producer *kgo.Client
	closed   bool

	running   atomic.Bool
	committed atomic.Pointer[cursorState]
	stats     statsCounter

	// beforeCommit, when set by a test, runs after the records of a page
	// were produced and before the transaction commits, with the number of
	// the page. An error from it makes Run return at once without ending
	// the transaction, as a crashed process would.
	beforeCommit func(page int64) error
}

// New validates cfg and creates the Kafka consumer of the cursor topic. It
// does not contact the API or the brokers yet.
func New(cfg Config) (*Poller, error) {
	cfg, endpoint, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Poller{
		cfg:      cfg,
		endpoint: endpoint,
		shownURL: redactURL(endpoint),
		urlHash:  urlHash(endpoint),
		key:      cursorKey(cfg.Tenant, endpoint),
	}
	p.log = cfg.Logger.With("component", "poller", "tenant", cfg.Tenant, "url", p.shownURL)
	p.committed.Store(&cursorState{})

	restoreOpts := append(append([]kgo.Opt(nil), cfg.ClientOpts...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	p.restore, err = kgo.NewClient(restoreOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating the cursor consumer: %w", err)
	}
	return p, nil
}

// Cursor returns the last committed cursor, empty before the first page.
func (p *Poller) Cursor() string { return p.committed.Load().Cursor }

// Run polls until ctx ends, then returns nil. With Config.Once it returns
// nil after the first committed page with hasMore false. It returns an
// error when the API rejects the token (wrapping ErrUnauthorized), returns
// another status that a retry cannot fix, or when another poller with
// the same transactional ID took over. Network errors, 5xx responses and
// Kafka outages are retried. Run may be called once.
func (p *Poller) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("poller: Run called twice: create a new Poller")
	}
	p.log.Info("poller starting", "transactional_id", p.cfg.TransactionalID, "limit", p.cfg.Limit, "interval", p.cfg.Interval)

	failures := 0
	retry := func(wait time.Duration) error {
		failures++
		if wait <= 0 {
			wait = p.cfg.Backoff.Delay(failures)
		}
		p.log.Info("retrying", "wait", wait, "consecutive_failures", failures)
		return sleep(ctx, wait)
	}

	connected := false
	for {
		if p.isClosed() {
			return ErrClosed
		}
		if !connected {
			if err := p.connect(ctx); err != nil {
				if ctx.Err() != nil {
					return p.stopped()
				}
				if isFatalKafka(err) || errors.Is(err, ErrClosed) {
					return err
				}
				p.log.Warn("connecting to Kafka failed", "error", err)
				if retry(0) != nil {
					return p.stopped()
				}
				continue
			}
			connected = true
		}

		more, err := p.pollOnce(ctx)
		if err == nil {
			failures = 0
			if more {
				continue
			}
			if p.cfg.Once {
				p.log.Info("poller stopped: no more pages", "stats", p.Stats())
				return nil
			}
			if sleep(ctx, p.cfg.Interval) != nil {
				return p.stopped()
			}
			continue
		}

		if ctx.Err() != nil {
			return p.stopped()
		}
		wait, reconnect, fatal := p.classify(err)
		if fatal != nil {
			return fatal
		}
		if reconnect {
			p.disconnect()
			connected = false
		}
		if retry(wait) != nil {
			return p.stopped()
		}
	}
}

// classify logs a failed poll and decides how Run goes on: after wait (0
// for the backoff), in a new producer session when reconnect is set, or
// not at all when fatal is set.
func (p *Poller) classify(err error) (wait time.Duration, reconnect bool, fatal error) {
	var fetchErr *fetchError
	var txnErr *transactionError
	switch {
	case errors.Is(err, errSimulatedCrash):
		return 0, false, err
	case errors.As(err, &fetchErr) && fetchErr.fatal:
		p.log.Error("poller stopped", "error", err)
		return 0, false, err
	case errors.As(err, &fetchErr):
		p.log.Warn("polling the API failed", "error", err)
		return fetchErr.retryAfter, false, nil
	case errors.As(err, &txnErr) && isFatalKafka(err):
		p.log.Error("poller stopped", "error", err)
		return 0, false, err
	case errors.As(err, &txnErr):
		// The outcome of the transaction may be unknown, so the poller
		// starts a new producer session, which ends it, and reads the
		// committed cursor again before the next request.
		p.log.Warn("producing the page failed; reconnecting", "error", err)
		return 0, true, nil
	default:
		p.log.Warn("preparing the page failed", "error", err)
		return 0, false, nil
	}
}

// stopped logs the stop after ctx ended and returns nil.
func (p *Poller) stopped() error {
	p.log.Info("poller stopped", "stats", p.Stats())
	return nil
}

// pollOnce requests the page after the committed cursor and commits it. It
// reports whether the API has more pages right away.
func (p *Poller) pollOnce(ctx context.Context) (more bool, err error) {
	ctx, span := tracing.Start(ctx, tracing.SpanPollerPage, tracing.Tenant(p.cfg.Tenant))
	defer func() { tracing.End(span, err) }()

	current := *p.committed.Load()
	pg, err := p.fetch(ctx, current.Cursor)
	if err != nil {
		return false, err
	}
	if len(pg.Items) == 0 && (pg.NextCursor == "" || pg.NextCursor == current.Cursor) {
		return false, nil
	}

	now := p.cfg.Now()
	prepared, err := p.prepareItems(ctx, pg, current.Cursor, now)
	if err != nil {
		return false, err
	}
	next := cursorState{
		Tenant:      p.cfg.Tenant,
		URL:         p.shownURL,
		Cursor:      pg.NextCursor,
		Pages:       current.Pages + 1,
		CommittedAt: now.UTC(),
	}
	deadLetters, err := p.commitPage(ctx, prepared, next, now)
	if err != nil {
		return false, err
	}

	p.committed.Store(&next)
	p.stats.add(len(prepared), deadLetters)
	p.cfg.Metrics.Published(schemas.SourcePoller, metrics.IngressPublished, len(prepared)-deadLetters)
	p.cfg.Metrics.DeadLetters(schemas.SourcePoller, deadLetters)
	p.log.Info("page committed", "page", next.Pages, "items", len(prepared), "dead_letters", deadLetters, "has_more", pg.HasMore)
	return pg.HasMore, nil
}

// connect starts a producer session: it ensures the cursor topic,
// initializes the transactional ID, which aborts a transaction that an
// earlier session or instance left open, and then reads the committed
// cursor.
func (p *Poller) connect(ctx context.Context) error {
	if p.isClosed() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()

	if err := topics.EnsurePollerCursors(ctx, kadm.NewClient(p.restore), p.cfg.CursorReplication); err != nil {
		return err
	}

	opts := append(append([]kgo.Opt(nil), p.cfg.ClientOpts...),
		kgo.TransactionalID(p.cfg.TransactionalID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchMaxBytesFn(func(topic string) int32 { return topics.MaxMessageBytes(topic) }),
	)
	producer, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating the transactional producer: %w", err)
	}
	if _, _, err := producer.ProducerID(ctx); err != nil {
		producer.Close()
		return &transactionError{err: fmt.Errorf("initializing transactional ID %q: %w", p.cfg.TransactionalID, err)}
	}

	state, err := loadCursor(ctx, p.restore, p.key)
	if err != nil {
		producer.Close()
		if p.isClosed() {
			return ErrClosed
		}
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		producer.Close()
		return ErrClosed
	}
	p.producer = producer
	p.committed.Store(&state)
	p.log.Info("committed cursor read", "pages", state.Pages, "from_start", state.Cursor == "")
	return nil
}

func (p *Poller) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// disconnect closes the producer session, if any.
func (p *Poller) disconnect() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.producer != nil {
		p.producer.Close()
		p.producer = nil
	}
}

// Close closes the Kafka clients. A transaction still open is aborted by
// the next poller with the same transactional ID, or by the broker when it
// times out. Close is safe to call more than once. A Run still going
// returns ErrClosed, or nil when its context ends first.
func (p *Poller) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.producer != nil {
		p.producer.Close()
		p.producer = nil
	}
	p.restore.Close()
}

// Stats counts what a Poller committed.
type Stats struct {
	Pages       int64 `json:"pages"`
	Items       int64 `json:"items"`
	DeadLetters int64 `json:"deadLetters"`
}

type statsCounter struct {
	pages, items, deadLetters atomic.Int64
}

func (s *statsCounter) add(items, deadLetters int) {
	s.pages.Add(1)
	s.items.Add(int64(items))
	s.deadLetters.Add(int64(deadLetters))
}

// Stats returns the pages, items and dead letters committed since Run
// started.
func (p *Poller) Stats() Stats {
	return Stats{Pages: p.stats.pages.Load(), Items: p.stats.items.Load(), DeadLetters: p.stats.deadLetters.Load()}
}
