package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailtriage/connectors/postgres"
	"mailtriage/schemas"
)

func init() {
	register("tickets", "Work on tickets: the ticket API (serve, token) and its client (list, show, reassign, close, reply)", runTickets)
}

const ticketsUsage = `usage: mailtriage tickets SUBCOMMAND [flags]

serve     runs the ticket API (JSON over HTTP, bearer tokens per tenant) on
          --listen, with the relay that produces agent replies and ticket
          events to Kafka:
          tickets serve --postgres DSN --message-id-domain D --brokers B
token     manages API tokens: tickets token create --tenant T --name N
          prints a new token once (the store keeps only its SHA-256);
          tickets token list prints the tokens without them; tickets token
          revoke --tenant T --name N (or --id ID) makes the API reject one.

The client subcommands call the API at --api URL (or $MAILTRIAGE_API_URL)
with the token of --token-file (or $MAILTRIAGE_API_TOKEN):
list      lists tickets: --queue, --status, --priority, --requester,
          --since, --until, --limit, --cursor, --json.
show      prints one ticket with its messages and events: --ticket REF.
reassign  moves a ticket: --ticket REF --queue Q [--priority P]. The
          change records a feedback event for the classifier.
close     sets a ticket's status to closed: --ticket REF.
reply     sends an agent reply through the SMTP sink: --ticket REF and
          --text or --text-file (- for standard input) [--html-file F].

reassign without --api works on PostgreSQL directly, as before:
  tickets reassign --postgres DSN --tenant T --ticket REF --queue Q [--priority P] --actor NAME
It records the same "reassigned" ticket event and feedback event, which
the PostgreSQL sink produces to mailtriage.feedback.v1, and prints the
feedback event ID. Reassigning to the queue and priority the ticket
already has changes nothing and prints why.`

const ticketsSubcommands = "serve, token, list, show, reassign, close or reply"

func runTickets(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, ticketsUsage)
		return &usageError{err: errors.New("missing subcommand: use " + ticketsSubcommands)}
	}
	rest := args[1:]
	switch args[0] {
	case "serve":
		return ticketsServe(ctx, rest, os.Stderr)
	case "token":
		return ticketsToken(ctx, rest, os.Stdout, os.Stderr)
	case "list":
		return ticketsList(ctx, rest, os.Stdout, os.Stderr)
	case "show":
		return ticketsShow(ctx, rest, os.Stdout, os.Stderr)
	case "reassign":
		if hasFlag(rest, "api") {
			return ticketsReassignAPI(ctx, rest, os.Stdout, os.Stderr)
		}
		return ticketsReassign(ctx, rest, os.Stdout, os.Stderr)
	case "close":
		return ticketsClose(ctx, rest, os.Stdout, os.Stderr)
	case "reply":
		return ticketsReply(ctx, rest, os.Stdin, os.Stdout, os.Stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(os.Stdout, ticketsUsage)
		return nil
	}
	fmt.Fprintln(os.Stderr, ticketsUsage)
	return &usageError{err: fmt.Errorf("unknown subcommand %q: use %s", args[0], ticketsSubcommands)}
}

// hasFlag reports whether args set the flag name, in any of the forms
// the flag package accepts.
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		trimmed := strings.TrimLeft(a, "-")
		if len(a)-len(trimmed) >= 1 && len(a)-len(trimmed) <= 2 && (trimmed == name || strings.HasPrefix(trimmed, name+"=")) {
			return true
		}
	}
	return false
}

// ticketsReassign runs "mailtriage tickets reassign". It writes the
// feedback event ID to stdout and a sentence for people to stderr.
func ticketsReassign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickets reassign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The default stays out of the flag, so that -h never prints a
	// password taken from the environment.
	dsn := fs.String("postgres", "",
		"PostgreSQL connection string of the ticket store, e.g. postgres://user@host:5432/db?sslmode=disable (default $"+envPostgresDSN+")")
	var req postgres.ReassignRequest
	fs.StringVar(&req.Tenant, "tenant", "", "tenant that owns the ticket (required)")
	fs.StringVar(&req.TicketRef, "ticket", "", "reference of the ticket, such as T-0123456789 (required)")
	fs.StringVar(&req.Queue, "queue", "", "new queue: lower-case letters, digits, '.', '_' and '-' (required)")
	fs.StringVar(&req.Priority, "priority", "", "new priority: low, normal, high or urgent (default: keep the ticket's priority)")
	fs.StringVar(&req.Actor, "actor", "", "name of the operator who reassigns; not an email address (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), ticketsUsage)
	}
	if *dsn == "" {
		*dsn = os.Getenv(envPostgresDSN)
	}
	if *dsn == "" {
		return errors.New("missing --postgres: pass the PostgreSQL connection string or set " + envPostgresDSN)
	}
	req.Source = schemas.FeedbackSourceCLI
	if err := req.Validate(); err != nil {
		return fmt.Errorf("%w (flags --tenant, --ticket, --queue, --priority, --actor)", err)
	}

	pool, err := pgxpool.New(ctx, *dsn)
	if err != nil {
		// pgx masks the password in the text of this error.
		return fmt.Errorf("invalid --postgres: %w", err)
	}
	defer pool.Close()
	// The feedback outbox comes with a migration, so a store that the
	// sink created before it existed is upgraded first.
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("migrating the ticket store: %w", err)
	}

	ev, err := postgres.Reassign(ctx, pool, req)
	if errors.Is(err, postgres.ErrNoChange) {
		fmt.Fprintln(stderr, err)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "ticket %s of tenant %s moved from %s/%s to %s/%s; the PostgreSQL sink produces the feedback event to Kafka\n",
		ev.TicketRef, ev.Tenant, ev.From.Queue, ev.From.Priority, ev.To.Queue, ev.To.Priority)
	fmt.Fprintln(stdout, ev.EventID)
	return nil
}
