package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"mailtriage/internal/demo"
)

func init() {
	register("demo", "Run the whole topology once over a folder of mail and print each decision", runDemo)
}

func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "comma-separated Kafka brokers; empty starts the embedded kfake broker")
	mail := fs.String("mail", "samples/mailbox", "comma-separated .eml files, folders, mbox files or Maildirs to import")
	rules := fs.String("rules", "config/rules.yaml", "classification ruleset (YAML)")
	tenant := fs.String("tenant", "default", "tenant the imported mail belongs to")
	partitions := fs.Int("partitions", 3, "partitions of each topic the demo creates")
	storage := fs.String("storage", "", "folder for raw MIME and attachments; empty uses a temporary folder")
	timeout := fs.Duration("timeout", 2*time.Minute, "limit for the whole run")
	asJSON := fs.Bool("json", false, "print the totals as one JSON object instead of the table")
	verbose := fs.Bool("v", false, "log the processor's progress to stderr as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: pass mail with --mail", fs.Arg(0))
	}

	cfg := demo.Config{
		Mail:       splitList(*mail),
		Brokers:    splitList(*brokers),
		RulesFile:  *rules,
		Tenant:     *tenant,
		Partitions: int32(*partitions),
		StorageDir: *storage,
		Timeout:    *timeout,
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}

	report, err := demo.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return report.WriteJSON(os.Stdout)
	}
	return report.WriteTable(os.Stdout)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
