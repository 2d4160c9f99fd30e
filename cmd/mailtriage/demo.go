package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"mailtriage/internal/demo"
	"mailtriage/internal/logging"
)

func init() {
	register("demo", "Run the whole topology once over a folder of mail and print each decision", runDemo)
}

func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "comma-separated Kafka brokers; empty starts the embedded kfake broker")
	mail := fs.String("mail", "samples/mailbox", "comma-separated .eml files, folders, mbox files or Maildirs to import")
	rules := fs.String("rules", "config/rules.yaml", "classification ruleset (YAML)")
	tenant := fs.String("tenant", "default", `tenant the imported mail belongs to; the first part of the record key tenant/messageId, so no "/" or whitespace`)
	partitions := partitionsFlag(3)
	fs.Var(&partitions, "partitions", fmt.Sprintf("partitions of each topic the demo creates, from 1 to %d", demo.MaxPartitions))
	storage := fs.String("storage", "", "folder for raw MIME and attachments; empty uses a temporary folder")
	timeout := fs.Duration("timeout", 2*time.Minute, "time limit for the whole run, such as 90s or 5m")
	asJSON := fs.Bool("json", false, "print the totals as one JSON object instead of the table")
	verbose := fs.Bool("v", false, "log the progress of the processor and the sinks to stderr")
	var observe observeFlags
	var logLevel slog.Level
	observe.add(fs, &logLevel, logging.FormatText)
	sinkFlags := addDemoSinkFlags(fs)
	var saltFile string
	addThreadSaltFlag(fs, &saltFile)
	var modelFlags modelFlags
	modelFlags.add(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: pass mail with --mail", fs.Arg(0))
	}
	if err := demo.ValidateTenant(*tenant); err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if err := modelFlags.validate(explicit); err != nil {
		return err
	}
	model, err := modelFlags.load(nil)
	if err != nil {
		return err
	}
	salt, err := threadSalt(saltFile)
	if err != nil {
		return err
	}

	cfg := demo.Config{
		Mail:       splitList(*mail),
		Brokers:    splitList(*brokers),
		RulesFile:  *rules,
		Model:      model,
		Tenant:     *tenant,
		Partitions: int32(partitions),
		StorageDir: *storage,
		Timeout:    *timeout,
		Sinks:      sinkFlags.config(),
		ThreadSalt: salt,
	}
	logger, stopTracing, err := observe.start(ctx, "demo", logLevel)
	if err != nil {
		return err
	}
	defer stopTracing()
	if *verbose {
		cfg.Logger = logger
	}

	report, err := demo.Run(ctx, cfg)
	if err != nil {
		return explainMissingRules(err)
	}
	if *asJSON {
		return report.WriteJSON(os.Stdout)
	}
	return report.WriteTable(os.Stdout)
}

// partitionsFlag is the value of --partitions. Set rejects a count outside
// 1 to demo.MaxPartitions, also one too large for an int64.
type partitionsFlag int32

func (p *partitionsFlag) String() string { return strconv.Itoa(int(*p)) }

func (p *partitionsFlag) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || demo.ValidatePartitions(n) != nil {
		return fmt.Errorf("use a whole number from 1 to %d", demo.MaxPartitions)
	}
	*p = partitionsFlag(n)
	return nil
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
