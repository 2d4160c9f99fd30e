package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"mailtriage/internal/logging"
	"mailtriage/internal/tracing"
)

// observeFlags are the log and trace flags that every role shares:
// --log-format, --log-level and --otlp-endpoint.
type observeFlags struct {
	logFormat logging.Format
	tracing   tracing.Config
}

// add registers the flags on fs. --log-level writes into level, which
// stays a field of each role's configuration; defaultFormat is JSON for the
// long-running roles and text for the one-shot commands.
func (o *observeFlags) add(fs *flag.FlagSet, level *slog.Level, defaultFormat logging.Format) {
	logging.AddFlags(fs, &o.logFormat, level, defaultFormat)
	o.tracing.AddFlags(fs)
}

// start returns the logger of role on stderr and starts the trace export
// that the flags or the OTEL_* variables configure. Call stop on exit, so
// that the spans still queued are sent.
func (o *observeFlags) start(ctx context.Context, role string, level slog.Level) (log *slog.Logger, stop func(), err error) {
	log = logging.New(os.Stderr, logging.Options{Role: role, Format: o.logFormat, Level: level})
	cfg := o.tracing
	cfg.Role = role
	stop, err = tracing.Setup(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return log, stop, nil
}
