package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"mailtriage/internal/mime"
	"mailtriage/schemas"
)

func init() {
	register("parse", "Print one message's contract as JSON", runParse)
}

// runParse parses one raw message from a file or standard input and prints
// its InboundEmail as indented JSON.
func runParse(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("parse", flag.ContinueOnError)
	tenant := flags.String("tenant", "default", "tenant written into the contract")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: mailtriage parse [--tenant NAME] FILE|-")
		fmt.Fprintln(flags.Output(), "Reads one raw RFC 5322 message (\"-\" for standard input) and prints its contract as JSON.")
		flags.PrintDefaults()
	}
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return fmt.Errorf("expected exactly one FILE argument (or - for standard input), got %d", flags.NArg())
	}

	raw, source, err := readMessageInput(flags.Arg(0))
	if err != nil {
		return err
	}
	parsed, err := mime.Parse(raw, mime.Options{Tenant: *tenant, Source: source})
	if err != nil {
		return fmt.Errorf("parsing %s: %w", flags.Arg(0), err)
	}

	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	return out.Encode(&parsed.Email)
}

// readMessageInput reads the message named on the command line.
func readMessageInput(name string) ([]byte, string, error) {
	if name == "-" {
		raw, err := io.ReadAll(os.Stdin)
		if err != nil {
			return nil, "", fmt.Errorf("reading standard input: %w", err)
		}
		return raw, schemas.SourceImport, nil
	}

	raw, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("file %s not found; pass the path of a raw message or - for standard input", name)
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w; check that it is a readable file", name, err)
	}
	return raw, schemas.SourceImport, nil
}
