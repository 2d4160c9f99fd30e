// Package metrics defines the Prometheus metrics of every mailtriage role
// and serves them on /metrics.
//
// Each role creates its own registry with NewRegistry, which already holds
// the Go runtime and process collectors, registers the metric sets it
// needs (Processor, Sink, Ingress, Webhook, SMTP) and serves the registry
// with Serve or Listen. Every metric name starts with "mailtriage_". Label
// values come from small sets that the code or the configuration fixes:
// stage names, topic names, partition numbers, sink kinds, rule IDs, reason
// codes and status codes. No label ever carries an address, a subject, a
// message ID or a ticket reference.
//
// The methods of every metric set accept a nil receiver and then do
// nothing, so that a component whose metrics are off needs no checks.
package metrics
