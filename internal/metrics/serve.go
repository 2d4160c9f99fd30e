package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Path is the URL path of the metrics endpoint.
const Path = "/metrics"

// shutdownGrace bounds how long a stopping Server waits for scrapes in
// flight.
const shutdownGrace = 5 * time.Second

// Server serves one registry on Path. Create it with Listen and run it
// with Serve.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// Listen binds addr (host:port; port 0 picks a free port) for the metrics
// of reg. It fails at once when the address is invalid or taken, so that a
// role reports a wrong --metrics-addr when it starts. log may be nil.
func Listen(addr string, reg *prometheus.Registry, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %q (--metrics-addr): %w; use a free host:port such as 127.0.0.1:9464, or an empty value to turn metrics off", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, Handler(reg, log))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return &Server{ln: ln, srv: srv, log: log}, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves scrapes until ctx ends, then lets the scrapes in flight
// finish for up to 5 seconds and returns nil. It returns an error only
// when the listener fails.
func (s *Server) Serve(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.ln) }()
	s.log.Info("metrics endpoint listening", "address", s.ln.Addr().String(), "path", Path)

	select {
	case err := <-served:
		return fmt.Errorf("serving metrics on %s: %w", s.ln.Addr(), err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := s.srv.Shutdown(shutdownCtx); err != nil {
		s.log.Warn("metrics endpoint stopped before the scrapes in flight finished", "error", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving metrics on %s: %w", s.ln.Addr(), err)
	}
	return nil
}

// Serve listens on addr and serves the metrics of reg until ctx ends. It
// is Listen followed by Server.Serve.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) error {
	s, err := Listen(addr, reg, log)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Start listens on addr and serves the metrics of reg in the background
// until ctx ends or stop is called. stop waits for the server to finish.
// An empty addr turns metrics off: Start then returns a stop that does
// nothing. A failure of the server after the start is logged to log.
func Start(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	s, err := Listen(addr, reg, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Serve(ctx); err != nil {
			s.log.Error("metrics endpoint failed", "error", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}, nil
}
