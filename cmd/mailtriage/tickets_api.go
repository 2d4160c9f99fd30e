package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/postgres"
	"mailtriage/connectors/ticketapi"
	"mailtriage/internal/kafkaconfig"
)

// Environment variables of the ticket API client.
const (
	envAPIURL   = "MAILTRIAGE_API_URL"
	envAPIToken = "MAILTRIAGE_API_TOKEN"
)

// defaultTicketsListen is the listener of "tickets serve": loopback, so
// that exposing the API is a decision.
const defaultTicketsListen = "127.0.0.1:8090"

// apiFlags are the flags of the subcommands that call the ticket API.
type apiFlags struct {
	url       string
	tokenFile string
}

func addAPIFlags(fs *flag.FlagSet) *apiFlags {
	f := &apiFlags{}
	fs.StringVar(&f.url, "api", "", "`URL` of the ticket API, such as http://127.0.0.1:8090 (default $"+envAPIURL+")")
	fs.StringVar(&f.tokenFile, "token-file", "", "`file` that contains the API token (default: the token in $"+envAPIToken+")")
	return f
}

// client builds the API client from the flags and the environment.
func (f *apiFlags) client() (*ticketapi.Client, error) {
	url := f.url
	if url == "" {
		url = os.Getenv(envAPIURL)
	}
	if url == "" {
		return nil, errors.New("missing --api: pass the URL of the ticket API or set " + envAPIURL)
	}
	token := os.Getenv(envAPIToken)
	if f.tokenFile != "" {
		data, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading --token-file: %w", err)
		}
		token = strings.TrimSpace(string(data))
	}
	if token == "" {
		return nil, errors.New("missing API token: pass --token-file or set " + envAPIToken + " (create one with mailtriage tickets token create)")
	}
	return &ticketapi.Client{BaseURL: url, Token: token}, nil
}

// parseAPICommand parses args of a client subcommand that takes no
// positional arguments and returns its client.
func parseAPICommand(fs *flag.FlagSet, api *apiFlags, args []string) (*ticketapi.Client, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: %s takes only flags", fs.Arg(0), fs.Name())
	}
	return api.client()
}

// ticketsList runs "mailtriage tickets list": a table of one page, or
// its JSON with --json. The cursor of the next page goes to stderr.
func ticketsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickets list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := addAPIFlags(fs)
	var filter ticketapi.ListFilter
	var since, until string
	fs.StringVar(&filter.Queue, "queue", "", "only tickets in this queue")
	fs.StringVar(&filter.Status, "status", "", "only tickets with this status: open, pending, solved or closed")
	fs.StringVar(&filter.Priority, "priority", "", "only tickets with this priority: low, normal, high or urgent")
	fs.StringVar(&filter.Requester, "requester", "", "only tickets of this requester `address`, in any letter case")
	fs.StringVar(&since, "since", "", "only tickets created at or after this RFC 3339 `time`")
	fs.StringVar(&until, "until", "", "only tickets created before this RFC 3339 `time`")
	fs.IntVar(&filter.Limit, "limit", 0, "tickets per page, 1 to 200 (default 50)")
	fs.StringVar(&filter.Cursor, "cursor", "", "cursor of the next page, as the previous page printed it")
	asJSON := fs.Bool("json", false, "print the API's JSON response instead of a table")
	client, err := parseAPICommand(fs, api, args)
	if err != nil {
		return err
	}
	for _, t := range []struct {
		name, text string
		dst        *time.Time
	}{{"since", since, &filter.Since}, {"until", until, &filter.Until}} {
		if t.text == "" {
			continue
		}
		if *t.dst, err = time.Parse(time.RFC3339Nano, t.text); err != nil {
			return fmt.Errorf("invalid --%s %q: use an RFC 3339 time such as 2025-03-01T00:00:00Z", t.name, t.text)
		}
	}

	list, err := client.List(ctx, filter)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, list)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REF\tSTATUS\tQUEUE\tPRIORITY\tCREATED\tSUBJECT")
	for _, t := range list.Tickets {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Ref, t.Status, t.Queue, t.Priority, t.CreatedAt.Format(time.RFC3339), t.Subject)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if list.NextCursor != "" {
		fmt.Fprintf(stderr, "more tickets: add --cursor %s\n", list.NextCursor)
	}
	return nil
}

// ticketsShow runs "mailtriage tickets show": the ticket with its
// messages and events, as JSON.
func ticketsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickets show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := addAPIFlags(fs)
	ref := fs.String("ticket", "", "reference of the ticket, such as T-0123456789 (required)")
	client, err := parseAPICommand(fs, api, args)
	if err != nil {
		return err
	}
	if *ref == "" {
		return errors.New("missing --ticket: pass the ticket's reference")
	}
	detail, err := client.Show(ctx, *ref)
	if err != nil {
		return err
	}
	return printJSON(stdout, detail)
}

// ticketsReassignAPI runs "mailtriage tickets reassign --api": the
// reassignment through the API, whose token names the actor. It prints
// the event ID, which is also the feedback event's ID.
func ticketsReassignAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickets reassign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := addAPIFlags(fs)
	ref := fs.String("ticket", "", "reference of the ticket, such as T-0123456789 (required)")
	queue := fs.String("queue", "", "new queue: lower-case letters, digits, '.', '_' and '-' (required)")
	priority := fs.String("priority", "", "new priority: low, normal, high or urgent (default: keep the ticket's priority)")
	client, err := parseAPICommand(fs, api, args)
	if err != nil {
		return err
	}
	if *ref == "" || *queue == "" {
		return errors.New("missing --ticket or --queue: pass the ticket's reference and its new queue")
	}
	res, err := client.Reassign(ctx, *ref, *queue, *priority)
	if ticketapi.IsStatus(err, http.StatusConflict) {
		fmt.Fprintln(stderr, err)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "ticket %s moved to %s/%s; the PostgreSQL sink produces the feedback event to Kafka\n",
		res.Ticket.Ref, res.Ticket.Queue, res.Ticket.Priority)
	fmt.Fprintln(stdout, res.Event.EventID)
	return nil
}

// ticketsClose runs "mailtriage tickets close".
func ticketsClose(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickets close", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := addAPIFlags(fs)
	ref := fs.String("ticket", "", "reference of the ticket, such as T-0123456789 (required)")
	client, err := parseAPICommand(fs, api, args)
	if err != nil {
		return err
	}
	if *ref == "" {
		return errors.New("missing --ticket: pass the ticket's reference")
	}
	res, err := client.SetStatus(ctx, *ref, "closed")
	if ticketapi.IsStatus(err, http.StatusConflict) {
		fmt.Fprintln(stderr, err)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "ticket %s closed\n", res.Ticket.Ref)
	fmt.Fprintln(stdout, res.Event.EventID)
	return nil
}

// ticketsReply runs "mailtriage tickets reply". It prints the Message-ID
// of the reply.
func ticketsReply(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickets reply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := addAPIFlags(fs)
	ref := fs.String("ticket", "", "reference of the ticket, such as T-0123456789 (required)")
	text := fs.String("text", "", "plain-text body of the reply")
	textFile := fs.String("text-file", "", "`file` with the plain-text body, or - for standard input (instead of --text)")
	htmlFile := fs.String("html-file", "", "`file` with an HTML body (optional)")
	client, err := parseAPICommand(fs, api, args)
	if err != nil {
		return err
	}
	if *ref == "" {
		return errors.New("missing --ticket: pass the ticket's reference")
	}
	if (*text == "") == (*textFile == "") {
		return errors.New("pass the reply body with either --text or --text-file")
	}
	if *textFile != "" {
		data, err := readInput(*textFile, stdin)
		if err != nil {
			return fmt.Errorf("reading --text-file: %w", err)
		}
		*text = string(data)
	}
	var html string
	if *htmlFile != "" {
		data, err := os.ReadFile(*htmlFile)
		if err != nil {
			return fmt.Errorf("reading --html-file: %w", err)
		}
		html = string(data)
	}

	res, err := client.Reply(ctx, *ref, *text, html)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "reply to ticket %s stored; the SMTP sink sends it\n", res.Ticket.Ref)
	fmt.Fprintln(stdout, res.Message.MessageID)
	return nil
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// postgresFlag registers --postgres and returns a function that resolves
// it against the environment.
func postgresFlag(fs *flag.FlagSet) func() (string, error) {
	// The default stays out of the flag, so that -h never prints a
	// password taken from the environment.
	dsn := fs.String("postgres", "", "PostgreSQL connection string of the ticket store (default $"+envPostgresDSN+")")
	return func() (string, error) {
		if *dsn != "" {
			return *dsn, nil
		}
		if env := os.Getenv(envPostgresDSN); env != "" {
			return env, nil
		}
		return "", errors.New("missing --postgres: pass the PostgreSQL connection string or set " + envPostgresDSN)
	}
}

// openStore connects to the ticket store and migrates it.
func openStore(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		// pgx masks the password in the text of this error.
		return nil, fmt.Errorf("invalid --postgres: %w", err)
	}
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrating the ticket store: %w", err)
	}
	return pool, nil
}

// ticketsServe runs "mailtriage tickets serve": the ticket API, the relay
// of its outbox to Kafka and the hourly purge of expired Idempotency-Keys,
// until ctx ends.
func ticketsServe(ctx context.Context, args []string, stderr io.Writer) error {
	var kafka kafkaconfig.Config
	if err := kafka.FromEnv(); err != nil {
		return err
	}
	fs := flag.NewFlagSet("tickets serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kafka.AddFlags(fs)
	dsn := postgresFlag(fs)
	listen := fs.String("listen", defaultTicketsListen, "`address` (host:port) of the HTTP listener")
	var cfg ticketapi.Config
	fs.StringVar(&cfg.MessageIDDomain, "message-id-domain", "", "`domain` of the Message-IDs of agent replies, such as support.example.com (required)")
	fs.StringVar(&cfg.SubjectFormat, "subject-format", "", "ticket reference tag in reply subjects, with {ref}; must match the processor's (default [#{ref}])")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: tickets serve takes only flags", fs.Arg(0))
	}
	if cfg.MessageIDDomain == "" {
		return errors.New("missing --message-id-domain: name the domain of your support address, such as support.example.com")
	}
	if err := kafka.Validate(); err != nil {
		return err
	}
	kafkaOpts, err := kafka.Opts()
	if err != nil {
		return err
	}
	conn, err := dsn()
	if err != nil {
		return err
	}

	log := slog.New(slog.NewJSONHandler(stderr, nil))
	pool, err := openStore(ctx, conn)
	if err != nil {
		return err
	}
	defer pool.Close()
	cfg.Pool, cfg.Logger = pool, log
	api, err := ticketapi.New(cfg)
	if err != nil {
		return err
	}
	client, err := kgo.NewClient(kafkaOpts...)
	if err != nil {
		return fmt.Errorf("creating the Kafka client: %w", err)
	}
	defer client.Close()

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening on %s (--listen): %w", *listen, err)
	}
	server := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		_ = ticketapi.NewOutboxRelay(pool, client, log).Run(runCtx, ticketapi.DefaultRelayInterval)
	}()
	go purgeKeys(runCtx, pool, log)

	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	log.Info("ticket API started", "listen", listener.Addr().String(), "brokers", kafka.Brokers)

	select {
	case err := <-served:
		stop()
		<-relayDone
		return fmt.Errorf("serving HTTP on %s: %w", listener.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err = server.Shutdown(shutdownCtx)
	stop()
	<-relayDone
	log.Info("ticket API stopped")
	if err != nil {
		return fmt.Errorf("shutting down the HTTP server: %w", err)
	}
	return nil
}

// purgeKeys deletes expired Idempotency-Keys every hour until ctx ends.
func purgeKeys(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) {
	ticker := time.NewTicker(time.Hour)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if n, err := ticketapi.PurgeIdempotencyKeys(ctx, pool); err != nil {
			log.Warn("purging expired Idempotency-Keys failed; retrying in an hour", "error", err)
		} else if n > 0 {
			log.Info("expired Idempotency-Keys purged", "keys", n)
		}
	}
}
