package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/internal/metrics"
	"mailtriage/schemas"
)

// Shutdown pacing: how often a stopping listener ends idle sessions, and
// how long it waits for the handlers of closed connections to return.
const (
	drainInterval   = 100 * time.Millisecond
	closeWaitPeriod = 5 * time.Second
)

// Publisher puts records on Kafka and returns only after the broker
// acknowledged them. *ingress.Publisher implements it. An error wrapping
// ingress.ErrUnavailable means the record was not stored and the sender
// should retry.
type Publisher interface {
	Publish(ctx context.Context, email *schemas.InboundEmail) error
	PublishDeadLetter(ctx context.Context, key string, dl *schemas.DeadLetter) error
}

// Options configure New.
type Options struct {
	// Config is the validated listener configuration (see LoadConfig, or
	// call Config.Complete on a hand-built one).
	Config Config
	// LMTP speaks LMTP (RFC 2033) instead of SMTP: LHLO instead of EHLO,
	// and one reply per recipient after DATA. Default false.
	LMTP bool
	// Publisher receives the records. Required.
	Publisher Publisher
	// Store keeps the raw messages and attachments. Required.
	Store blobstore.Store
	// Logger receives the JSON logs of sessions and messages. Default: a
	// logger that discards everything.
	Logger *slog.Logger
	// Now returns the receive time of a message. Default time.Now.
	Now func() time.Time
	// Metrics counts the replies (metrics.NewSMTP). Nil, the default,
	// counts none.
	Metrics *metrics.SMTP
}

// Server is one SMTP or LMTP listener. Create it with New and run it with
// Serve, once.
type Server struct {
	cfg    Config
	source string // schemas.SourceSMTP or schemas.SourceLMTP
	pub    Publisher
	// metrics counts the replies to MAIL, RCPT and DATA; nil counts none.
	metrics *metrics.SMTP
	store   blobstore.Store
	log     *slog.Logger
	now     func() time.Time
	router  *router
	smtp    *gosmtp.Server

	// publishCtx is the parent of every publish. It outlives the context
	// of Serve, so that a stop lets messages in flight finish, and ends
	// when the shutdown grace period is over.
	publishCtx    context.Context
	cancelPublish context.CancelFunc

	draining atomic.Bool // set when Serve begins to stop
	served   atomic.Bool // set by the first Serve
}

// New checks opts, loads the STARTTLS certificate when the configuration
// names one and returns a Server that is not yet listening.
func New(opts Options) (*Server, error) {
	if opts.Publisher == nil {
		return nil, errors.New("smtp.New: Publisher is nil; pass an *ingress.Publisher")
	}
	if opts.Store == nil {
		return nil, errors.New("smtp.New: Store is nil; pass a blobstore.Store such as blobstore.NewDir")
	}
	cfg := opts.Config
	if err := cfg.Complete(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}

	source := schemas.SourceSMTP
	if opts.LMTP {
		source = schemas.SourceLMTP
	}
	s := &Server{
		cfg:    cfg,
		source: source,
		pub:    opts.Publisher,
		store:  opts.Store,
		log:    log.With("protocol", source),
		now:    now,
		router: newRouter(cfg),

		metrics: opts.Metrics,
	}
	s.publishCtx, s.cancelPublish = context.WithCancel(context.Background())

	tlsConfig, err := loadTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	s.smtp = s.newProtocolServer(opts.LMTP, tlsConfig)
	return s, nil
}

// newProtocolServer configures the go-smtp server that speaks the
// protocol and calls the sessions of s.
func (s *Server) newProtocolServer(lmtp bool, tlsConfig *tls.Config) *gosmtp.Server {
	srv := gosmtp.NewServer(gosmtp.BackendFunc(s.newSession))
	srv.Domain = s.cfg.Hostname
	srv.LMTP = lmtp
	srv.TLSConfig = tlsConfig
	srv.MaxMessageBytes = s.cfg.Limits.MaxMessageBytes
	srv.MaxRecipients = s.cfg.Limits.MaxRecipients
	srv.MaxLineLength = s.cfg.Limits.MaxLineLength
	srv.ReadTimeout = s.cfg.Timeouts.Read
	srv.WriteTimeout = s.cfg.Timeouts.Write
	// The raw bytes are stored as they arrive, so UTF-8 addresses and
	// headers need nothing more from the listener.
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = errorLog{log: s.log}
	return srv
}

// loadTLS returns the STARTTLS configuration of files, or nil when they
// name no certificate. The files are read once, so a renewed certificate
// takes effect at the next start.
func loadTLS(files TLSFiles) (*tls.Config, error) {
	if files.Cert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		return nil, fmt.Errorf("loading the STARTTLS certificate %s and key %s: %w; both must be PEM files, the key matching the certificate", files.Cert, files.Key, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Serve accepts connections on ln until ctx ends, then stops gracefully:
// it accepts no new connection, ends idle sessions with 421, and waits up
// to Timeouts.Shutdown for messages in flight to get their reply before it
// closes the rest. It returns nil after such a stop, and the error of ln
// when accepting fails. Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.served.Swap(true) {
		return errors.New("smtp.Server.Serve called twice; create one Server per listener")
	}
	lln := newLimitListener(ln, s.cfg.Hostname, s.cfg.Limits, s.log)
	s.log.Info("listener started", "listen", ln.Addr().String(), "hostname", s.cfg.Hostname,
		"starttls", s.smtp.TLSConfig != nil, "require_tls", s.cfg.RequireTLS,
		"max_message_bytes", s.cfg.Limits.MaxMessageBytes, "domains", len(s.cfg.Domains),
		"addresses", len(s.cfg.Addresses), "catch_all", s.cfg.CatchAll != nil)

	served := make(chan error, 1)
	go func() { served <- s.smtp.Serve(lln) }()

	select {
	case err := <-served:
		s.cancelPublish()
		lln.closeAll()
		return fmt.Errorf("accepting connections on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	return s.shutdown(lln, served)
}

// shutdown stops the listener as Serve describes.
func (s *Server) shutdown(lln *limitListener, served <-chan error) error {
	s.draining.Store(true)
	s.log.Info("listener stopping", "open_connections", lln.open(), "grace_period", s.cfg.Timeouts.Shutdown.String())

	grace, cancel := context.WithTimeout(context.Background(), s.cfg.Timeouts.Shutdown)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- s.smtp.Shutdown(grace) }()

	ticker := time.NewTicker(drainInterval)
	defer ticker.Stop()
	var err error
wait:
	for {
		lln.interruptIdle()
		select {
		case err = <-stopped:
			break wait
		case <-ticker.C:
		}
	}
	<-served

	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("shutdown grace period over; closing the remaining connections", "open_connections", lln.open())
		s.cancelPublish()
		lln.closeAll()
		waitClosed(lln)
	}
	s.cancelPublish()
	s.log.Info("listener stopped")
	return nil
}

// waitClosed waits up to closeWaitPeriod for the handlers of closed
// connections to release them. go-smtp offers no wait after Shutdown has
// given up, so this polls.
func waitClosed(lln *limitListener) {
	deadline := time.Now().Add(closeWaitPeriod)
	for lln.open() > 0 && time.Now().Before(deadline) {
		time.Sleep(drainInterval)
	}
}

// newSession is the go-smtp backend: it starts a session at HELO, EHLO or
// LHLO, and again after STARTTLS.
func (s *Server) newSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	if s.draining.Load() {
		return nil, replyShuttingDown
	}
	return &session{srv: s, conn: c, tracked: trackedFrom(c.Conn())}, nil
}

// errorLog passes go-smtp's reports of failed connections to slog.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Printf(format string, v ...any) {
	e.log.Warn("connection failed", "detail", fmt.Sprintf(format, v...))
}

func (e errorLog) Println(v ...any) {
	e.log.Warn("connection failed", "detail", fmt.Sprint(v...))
}

// ProducerOpts returns the franz-go options that the listener's producer
// needs on top of the Kafka connection. With idempotence on, franz-go by
// default does not fail a record whose request may have reached the
// broker. A broker that stops responding would then hold the SMTP reply
// until the publish timeout, and store the record after the sender got 451.
// AllowIdempotentProduceCancellation lets the delivery timeout fail such a
// record. The cost is a possible duplicate when the broker did store it,
// which the sender's retry then repeats, and the dedupe processor drops.
func ProducerOpts() []kgo.Opt {
	return []kgo.Opt{kgo.AllowIdempotentProduceCancellation()}
}
