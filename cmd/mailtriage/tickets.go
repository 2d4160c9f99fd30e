package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailtriage/connectors/postgres"
	"mailtriage/schemas"
)

func init() {
	register("tickets", "Act on tickets in the PostgreSQL ticket store (reassign)", runTickets)
}

const ticketsUsage = `usage: mailtriage tickets reassign --postgres DSN --tenant T --ticket REF --queue Q [--priority P] --actor NAME

reassign  moves a ticket to another queue, and optionally another priority,
          in the PostgreSQL ticket store. The same transaction records a
          "reassigned" ticket event and a feedback event, which the
          PostgreSQL sink produces to mailtriage.feedback.v1. It prints the
          feedback event ID. Reassigning to the queue and priority the
          ticket already has changes nothing and prints why.`

func runTickets(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, ticketsUsage)
		return &usageError{err: errors.New("missing subcommand: use reassign")}
	}
	switch args[0] {
	case "reassign":
		return ticketsReassign(ctx, args[1:], os.Stdout, os.Stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(os.Stdout, ticketsUsage)
		return nil
	}
	fmt.Fprintln(os.Stderr, ticketsUsage)
	return &usageError{err: fmt.Errorf("unknown subcommand %q: use reassign", args[0])}
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
