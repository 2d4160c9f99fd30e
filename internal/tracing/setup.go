// Package tracing is the OpenTelemetry tracing of every mailtriage role:
// the SDK setup with an OTLP/HTTP exporter, the W3C trace context carried
// in Kafka record headers, and the spans that link one message from its
// ingress to each sink.
//
// # Span chain
//
// One message makes one trace:
//
//	webhook.request | smtp.transaction | poller.page | import.message   (ingress)
//	└─ inbound.produce                  (the Publisher; poller.page injects directly)
//	   └─ process.record                (the processor, from the record's traceparent)
//	      ├─ stage.dedupe, stage.redact, stage.classify, stage.route, stage.thread, stage.autoreply
//	      └─ sink.postgres | sink.clickhouse | sink.slack | sink.smtp   (one per applied record)
//
// Every record that the processor produces carries the traceparent of its
// process.record span, so each sink span is a child of it. Span attributes
// hold the tenant, the stage, the topic, partition and offset, the decision
// queue and the reason kind; never addresses, subjects or bodies.
//
// # Export
//
// Setup exports spans over OTLP/HTTP when --otlp-endpoint,
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set,
// and otherwise installs no provider, so that spans cost almost nothing. A
// role without an exporter still passes on the trace context it reads from
// a record, so the roles that export keep one trace.
package tracing

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Environment variables that enable the exporter, as the OpenTelemetry
// specification names them. The exporter also reads the other
// OTEL_EXPORTER_OTLP_* variables (headers, timeout, certificates) itself.
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
)

// tracesPath is the path that OTLP/HTTP receivers serve traces on, which
// the exporter appends to a base endpoint.
const tracesPath = "/v1/traces"

// shutdownTimeout bounds the export of the spans still queued at exit.
const shutdownTimeout = 5 * time.Second

// Config configures Setup.
type Config struct {
	// Endpoint is the base URL of an OTLP/HTTP receiver, such as
	// http://127.0.0.1:4318, to which "/v1/traces" is appended, as for
	// OTEL_EXPORTER_OTLP_ENDPOINT. Empty uses the environment variables,
	// and without them nothing is exported.
	Endpoint string
	// Role names the subcommand, such as "process", in the service name
	// "mailtriage-ROLE" unless OTEL_SERVICE_NAME is set.
	Role string
}

// AddFlags registers --otlp-endpoint on fs.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Endpoint, "otlp-endpoint", "", "base `URL` of an OTLP/HTTP trace receiver, such as http://127.0.0.1:4318; empty reads "+EnvEndpoint+" and exports no traces when that is unset too")
}

// Enabled reports whether Setup would install an exporter: an endpoint is
// set by flag or environment and OTEL_SDK_DISABLED is not "true".
func (c Config) Enabled(lookupEnv func(string) (string, bool)) bool {
	if v, _ := lookupEnv(EnvSDKDisabled); strings.EqualFold(strings.TrimSpace(v), "true") {
		return false
	}
	if c.Endpoint != "" {
		return true
	}
	for _, name := range []string{EnvEndpoint, EnvTracesEndpoint} {
		if v, _ := lookupEnv(name); strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

// Setup installs the global tracer provider with a batching OTLP/HTTP
// exporter when c is Enabled, and leaves the no-op provider otherwise. It
// always installs the W3C trace context propagator. The returned function
// flushes the queued spans and shuts the provider down; call it once on
// exit. The exporter connects lazily, so Setup does not fail when the
// receiver is down: spans that cannot be sent are dropped and the SDK logs
// the error.
func Setup(ctx context.Context, c Config, log *slog.Logger) (shutdown func(), err error) {
	otel.SetTextMapPropagator(Propagator)
	if !c.Enabled(os.LookupEnv) {
		return func() {}, nil
	}

	var opts []otlptracehttp.Option
	if c.Endpoint != "" {
		endpoint, err := tracesURL(c.Endpoint)
		if err != nil {
			return nil, err
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
	}
	exporter, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the OTLP trace exporter: %w", err)
	}

	res, err := newResource(ctx, c.Role)
	if err != nil {
		return nil, err
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(provider)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("exporting traces failed", "error", err)
	}))
	log.Info("exporting traces over OTLP/HTTP", "endpoint", displayEndpoint(c.Endpoint))

	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := provider.Shutdown(shutdownCtx); err != nil {
			log.Warn("flushing the last spans failed", "error", err)
		}
	}, nil
}

// tracesURL checks a base endpoint URL and appends the traces path.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid --otlp-endpoint %q: use the base URL of an OTLP/HTTP receiver, such as http://127.0.0.1:4318", endpoint)
	}
	u.Path = path.Join("/", u.Path, tracesPath)
	return u.String(), nil
}

// displayEndpoint returns the endpoint for a log line: the flag without
// user information, or the name of the variable that sets it.
func displayEndpoint(endpoint string) string {
	if endpoint == "" {
		return "from " + EnvEndpoint + " or " + EnvTracesEndpoint
	}
	if u, err := url.Parse(endpoint); err == nil {
		u.User = nil
		return u.String()
	}
	return endpoint
}

// newResource describes the process: the service name mailtriage-ROLE,
// which OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override, and the
// SDK's own attributes.
func newResource(ctx context.Context, role string) (*resource.Resource, error) {
	name := "mailtriage"
	if role != "" {
		name += "-" + role
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", name), attribute.String("mailtriage.role", role)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("describing the process for the traces: %w", err)
	}
	return res, nil
}
