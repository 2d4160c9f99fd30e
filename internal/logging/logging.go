package logging

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Format is the encoding of the log lines.
type Format string

// The formats that New accepts.
const (
	// FormatJSON writes one JSON object per line, the default of the
	// long-running roles, for log collectors.
	FormatJSON Format = "json"
	// FormatText writes slog's key=value lines, for people at a terminal.
	FormatText Format = "text"
)

// String returns the format name.
func (f Format) String() string { return string(f) }

// Set parses a format name for the flag package.
func (f *Format) Set(s string) error {
	switch v := Format(strings.ToLower(strings.TrimSpace(s))); v {
	case FormatJSON, FormatText:
		*f = v
		return nil
	}
	return fmt.Errorf("unknown log format %q: use json or text", s)
}

// Standard attribute keys shared by every role.
const (
	KeyRole      = "role"
	KeyTenant    = "tenant"
	KeyTopic     = "topic"
	KeyPartition = "partition"
	KeyOffset    = "offset"
	KeyKeyHash   = "key_hash"
	KeyTraceID   = "trace_id"
	KeySpanID    = "span_id"
)

// Options configures New.
type Options struct {
	// Role is the subcommand, such as "process" or "sink-postgres", written
	// as "role" on every line. Empty leaves the attribute out.
	Role string
	// Format is FormatJSON or FormatText. Empty means FormatJSON.
	Format Format
	// Level is the minimum level written. The zero value is slog.LevelInfo.
	Level slog.Leveler
}

// New returns a logger that writes to w through NewHandler.
func New(w io.Writer, opts Options) *slog.Logger {
	logger := slog.New(NewHandler(w, opts))
	if opts.Role != "" {
		logger = logger.With(KeyRole, opts.Role)
	}
	return logger
}

// NewHandler returns the handler chain of New without the role attribute:
// the span's trace ID from the context, then redaction, then the JSON or
// text output.
func NewHandler(w io.Writer, opts Options) slog.Handler {
	handlerOpts := &slog.HandlerOptions{Level: opts.Level}
	var out slog.Handler
	if opts.Format == FormatText {
		out = slog.NewTextHandler(w, handlerOpts)
	} else {
		out = slog.NewJSONHandler(w, handlerOpts)
	}
	return NewTraceHandler(NewRedactHandler(out))
}

// AddFlags registers --log-format and --log-level on fs, writing into
// format and level. defaultFormat is the value of --log-format when the
// flag is not given.
func AddFlags(fs *flag.FlagSet, format *Format, level *slog.Level, defaultFormat Format) {
	*format = defaultFormat
	fs.Var(format, "log-format", "`format` of the logs on stderr: json or text")
	fs.TextVar(level, "log-level", slog.LevelInfo, "minimum `level` of the logs on stderr: DEBUG, INFO, WARN or ERROR")
}
