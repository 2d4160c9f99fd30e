package webhook

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/schemas"
)

// Publisher is the part of ingress.Publisher that the gateway uses.
type Publisher interface {
	Publish(ctx context.Context, email *schemas.InboundEmail) error
	PublishDeadLetter(ctx context.Context, key string, dl *schemas.DeadLetter) error
	Ping(ctx context.Context) error
}

// readyTimeout bounds the broker check of /readyz.
const readyTimeout = 3 * time.Second

// Gateway is the HTTP handler of `mailtriage serve`. It is safe for
// concurrent use. The package comment lists its endpoints and responses.
type Gateway struct {
	cfg      Config
	pub      Publisher
	store    blobstore.Store
	fetch    *http.Client // downloads attachments; nil unless cfg.Downloads.Enabled
	log      *slog.Logger
	ledger   *ledger
	handler  http.Handler
	draining atomic.Bool
}

// New returns a gateway that publishes through pub and stores raw MIME in
// store. It applies the defaults of cfg and validates it. A nil log
// discards the access log.
func New(cfg Config, pub Publisher, store blobstore.Store, log *slog.Logger) (*Gateway, error) {
	if pub == nil {
		return nil, errors.New("webhook.New: the publisher is nil; pass an ingress.Publisher")
	}
	if store == nil {
		return nil, errors.New("webhook.New: the object store is nil; pass a blobstore.Store such as blobstore.NewDir")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}

	g := &Gateway{
		cfg:    cfg,
		pub:    pub,
		store:  store,
		log:    log,
		ledger: newLedger(cfg.RetryCacheItems, cfg.Now),
	}
	if cfg.Downloads.Enabled {
		g.fetch = downloadClient(cfg.Downloads)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/inbound/{tenant}/raw", g.serveRaw)
	mux.HandleFunc("/v1/inbound/{tenant}/json", g.serveJSON)
	mux.HandleFunc("/healthz", g.serveHealth)
	mux.HandleFunc("/readyz", g.serveReady)
	mux.HandleFunc("/", serveNotFound)
	g.handler = g.accessLog(mux)
	return g, nil
}

// ServeHTTP routes the request and writes one access log line for it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.handler.ServeHTTP(w, r)
}

// Drain makes /readyz fail, so that a load balancer stops sending requests
// before the server shuts down. Requests that still arrive are served.
func (g *Gateway) Drain() { g.draining.Store(true) }

// serveHealth responds 200 while the process runs.
func (g *Gateway) serveHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// serveReady responds 200 when a Kafka broker replies to a ping, and 503
// with Retry-After otherwise or while the gateway drains.
func (g *Gateway) serveReady(w http.ResponseWriter, r *http.Request) {
	if g.draining.Load() {
		g.unavailable(w, r, errors.New("the gateway is shutting down: send requests to another instance"), nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := g.pub.Ping(ctx); err != nil {
		g.unavailable(w, r, errors.New("no Kafka broker replied to a ping: check the brokers and the network, because inbound requests get 503 until one does"), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func serveNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "no endpoint at "+r.URL.Path+": post mail to /v1/inbound/{tenant}/raw or /v1/inbound/{tenant}/json")
}
