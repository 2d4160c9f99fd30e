package ticketapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailtriage/processors"
	"mailtriage/topics"
)

// DefaultMaxBodyBytes bounds the body of a request: 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// Config is the configuration of a Server.
type Config struct {
	// Pool connects to the ticket store, migrated by postgres.Migrate.
	// Required.
	Pool *pgxpool.Pool
	// MessageIDDomain is the domain of the Message-IDs of agent replies,
	// such as support.example.com. Required.
	MessageIDDomain string
	// SubjectFormat is the ticket reference tag in the subject of agent
	// replies, with {ref} for the reference. It must match the format the
	// thread processor looks for. Default processors.DefaultSubjectFormat.
	SubjectFormat string
	// OutboundTopic is the topic of the OutboundMessage commands of agent
	// replies. Default topics.Outbound.
	OutboundTopic string
	// TicketEventsTopic is the topic of the TicketEvent records of replies,
	// status changes and notes. Default topics.TicketEvents.
	TicketEventsTopic string
	// MaxBodyBytes bounds a request body, in bytes. Default
	// DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// Logger receives a line per failed request; nil discards them.
	Logger *slog.Logger
}

// Server serves the ticket API. It is an http.Handler and is safe for
// concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New validates cfg and returns the Server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Pool == nil:
		return nil, errors.New("ticket API config: Pool is nil: pass a pool on the ticket store")
	case cfg.MessageIDDomain == "" || strings.ContainsAny(cfg.MessageIDDomain, "@<>()[]\\,;:\" \t\r\n"):
		return nil, fmt.Errorf("ticket API config: invalid MessageIDDomain %q: use a host name such as support.example.com", cfg.MessageIDDomain)
	case cfg.SubjectFormat != "" && strings.Count(cfg.SubjectFormat, "{ref}") != 1:
		return nil, fmt.Errorf("ticket API config: SubjectFormat %q must contain {ref} exactly once, e.g. %q", cfg.SubjectFormat, processors.DefaultSubjectFormat)
	case cfg.MaxBodyBytes < 0:
		return nil, fmt.Errorf("ticket API config: MaxBodyBytes %d is negative: use a size in bytes, or 0 for the default", cfg.MaxBodyBytes)
	}
	if cfg.SubjectFormat == "" {
		cfg.SubjectFormat = processors.DefaultSubjectFormat
	}
	if cfg.OutboundTopic == "" {
		cfg.OutboundTopic = topics.Outbound
	}
	if cfg.TicketEventsTopic == "" {
		cfg.TicketEventsTopic = topics.TicketEvents
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "ticket-api"), mux: http.NewServeMux()}
	s.mux.HandleFunc("/v1/tickets", s.route(http.MethodGet, scopeRead, s.listTickets))
	s.mux.HandleFunc("/v1/tickets/{ref}", s.route(http.MethodGet, scopeRead, s.showTicket))
	s.mux.HandleFunc("/v1/tickets/{ref}/reassign", s.route(http.MethodPost, scopeWrite, s.change(s.reassign)))
	s.mux.HandleFunc("/v1/tickets/{ref}/status", s.route(http.MethodPost, scopeWrite, s.change(s.setStatus)))
	s.mux.HandleFunc("/v1/tickets/{ref}/notes", s.route(http.MethodPost, scopeWrite, s.change(s.addNote)))
	s.mux.HandleFunc("/v1/tickets/{ref}/replies", s.route(http.MethodPost, scopeWrite, s.change(s.reply)))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no endpoint %s: the API serves /v1/tickets and /v1/tickets/{ref}[/reassign|/status|/notes|/replies]", r.URL.Path), Field: "path"})
	})
	return s, nil
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handlerFunc is an endpoint after authentication.
type handlerFunc func(w http.ResponseWriter, r *http.Request, tok *Token)

// route checks the method, authenticates the request and checks the
// token's scope before it calls h.
func (s *Server) route(method, scope string, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, &Error{Status: http.StatusMethodNotAllowed,
				Message: fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path), Field: "method", Allowed: []string{method}})
			return
		}
		tok, apiErr := s.authenticate(r)
		if apiErr != nil {
			if apiErr.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="mailtriage"`)
			}
			writeError(w, apiErr)
			return
		}
		if !tok.hasScope(scope) {
			writeError(w, &Error{Status: http.StatusForbidden,
				Message: fmt.Sprintf("token %s lacks the scope %s: create a token with it", tok.Name, scope), Field: "scope", Allowed: []string{scope}})
			return
		}
		h(w, r, tok)
	}
}

// fail logs err, unless it is an *Error the client caused, and sends the
// matching response.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, tok *Token, err error) {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		writeError(w, apiErr)
		return
	}
	s.log.Error("ticket API request failed", "method", r.Method, "path", r.URL.Path, "tenant", tok.Tenant, "token", tok.Name, "error", err)
	writeError(w, errInternal)
}
