package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"mailtriage/connectors/ticketapi"
)

const ticketsTokenUsage = `usage: mailtriage tickets token create --tenant T --name N [--scopes tickets:read,tickets:write] [--postgres DSN]
       mailtriage tickets token list   [--tenant T] [--json] [--postgres DSN]
       mailtriage tickets token revoke (--tenant T --name N | --id ID) [--postgres DSN]

create  prints a new API token once; the store keeps only its SHA-256.
list    prints the tokens with their ID, scopes and creation and revocation
        times, never a token.
revoke  revokes a token: the API rejects its requests with 401 from then on.`

// ticketsToken runs "mailtriage tickets token": create, list or revoke.
func ticketsToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(stdout, ticketsTokenUsage)
		return nil
	}
	if len(args) == 0 {
		// main does not print a usage error, so the usage goes out here.
		fmt.Fprintln(stderr, ticketsTokenUsage)
		return &usageError{err: errors.New("missing subcommand of tickets token: use create, list or revoke")}
	}
	switch args[0] {
	case "create":
		return ticketsTokenCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return ticketsTokenList(ctx, args[1:], stdout, stderr)
	case "revoke":
		return ticketsTokenRevoke(ctx, args[1:], stderr)
	}
	fmt.Fprintln(stderr, ticketsTokenUsage)
	return &usageError{err: fmt.Errorf("unknown subcommand %q of tickets token: use create, list or revoke", args[0])}
}

// ticketsTokenCreate runs "mailtriage tickets token create". The token
// goes to stdout once; the store keeps only its SHA-256.
func ticketsTokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickets token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := postgresFlag(fs)
	tenant := fs.String("tenant", "", "tenant whose tickets the token may read and change (required)")
	name := fs.String("name", "", "token name, the actor api:NAME of its changes: lower-case letters, digits, '.', '_' and '-' (required)")
	scopes := fs.String("scopes", strings.Join(ticketapi.Scopes, ","), "comma-separated scopes: tickets:read for the GET endpoints, tickets:write for the POST ones")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: tickets token create takes only flags", fs.Arg(0))
	}
	conn, err := dsn()
	if err != nil {
		return err
	}
	pool, err := openStore(ctx, conn)
	if err != nil {
		return err
	}
	defer pool.Close()

	token, err := ticketapi.CreateToken(ctx, pool, *tenant, *name, strings.Split(*scopes, ","))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "token %s of tenant %s created; it is shown only now, so store it in a secret manager\n", *name, *tenant)
	fmt.Fprintln(stdout, token)
	return nil
}

// ticketsTokenList runs "mailtriage tickets token list": a table of the
// stored tokens, or a JSON array with --json. No token is printed,
// because the store has only their hashes.
func ticketsTokenList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickets token list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := postgresFlag(fs)
	tenant := fs.String("tenant", "", "list only the tokens of this `tenant` (default: every tenant)")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: tickets token list takes only flags", fs.Arg(0))
	}
	conn, err := dsn()
	if err != nil {
		return err
	}
	pool, err := openStore(ctx, conn)
	if err != nil {
		return err
	}
	defer pool.Close()

	tokens, err := ticketapi.ListTokens(ctx, pool, *tenant)
	if err != nil {
		return err
	}
	if *asJSON {
		if tokens == nil {
			tokens = []ticketapi.TokenInfo{}
		}
		return printJSON(stdout, tokens)
	}
	return writeTokenTable(stdout, tokens)
}

// writeTokenTable prints tokens as a table with times in UTC. A token
// that is still valid has "-" as its revocation time.
func writeTokenTable(out io.Writer, tokens []ticketapi.TokenInfo) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tTENANT\tNAME\tSCOPES\tCREATED\tREVOKED")
	for _, t := range tokens {
		revoked := "-"
		if t.RevokedAt != nil {
			revoked = t.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Tenant, t.Name, strings.Join(t.Scopes, ","),
			t.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return w.Flush()
}

// ticketsTokenRevoke runs "mailtriage tickets token revoke" and reports
// on stderr. Revoking a revoked token changes nothing and prints that.
func ticketsTokenRevoke(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickets token revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := postgresFlag(fs)
	var ref ticketapi.TokenRef
	fs.StringVar(&ref.Tenant, "tenant", "", "tenant of the token, with --name")
	fs.StringVar(&ref.Name, "name", "", "name of the token, with --tenant")
	fs.Int64Var(&ref.ID, "id", 0, "`ID` of the token, as tickets token list prints it, instead of --tenant and --name")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: tickets token revoke takes only flags", fs.Arg(0))
	}
	switch {
	case ref.ID != 0 && (ref.Tenant != "" || ref.Name != ""):
		return errors.New("pass either --id or --tenant and --name, not both")
	case ref.ID == 0 && (ref.Tenant == "" || ref.Name == ""):
		return errors.New("missing token: pass --tenant and --name, or --id (tickets token list prints them)")
	}
	conn, err := dsn()
	if err != nil {
		return err
	}
	pool, err := openStore(ctx, conn)
	if err != nil {
		return err
	}
	defer pool.Close()

	info, err := ticketapi.RevokeToken(ctx, pool, ref)
	if errors.Is(err, ticketapi.ErrTokenAlreadyRevoked) {
		fmt.Fprintf(stderr, "token %s (ID %d) of tenant %s was already revoked at %s; nothing changed\n",
			info.Name, info.ID, info.Tenant, info.RevokedAt.UTC().Format(time.RFC3339))
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "token %s (ID %d) of tenant %s revoked at %s; the ticket API now rejects its requests with 401\n",
		info.Name, info.ID, info.Tenant, info.RevokedAt.UTC().Format(time.RFC3339))
	return nil
}
