package benchreport

// LatencyResult is the outcome of one `mailtriage-bench latency` run: the
// roles run as subprocesses of the built binary against the local stack,
// and signed JSON webhooks are sent at a fixed rate.
type LatencyResult struct {
	Rate            float64 `json:"rate"`            // requested emails per second
	DurationSeconds float64 `json:"durationSeconds"` // requested length of the load
	Sent            int     `json:"sent"`
	Accepted        int     `json:"accepted"`     // requests that got 202 Accepted
	Delivered       int     `json:"delivered"`    // accepted emails whose ticket_messages row was seen
	AchievedRate    float64 `json:"achievedRate"` // accepted emails per second over the send window
	// MaxSendLagMs is the largest delay of a request's start behind its
	// planned time. A large value means that the sender fell behind the rate.
	MaxSendLagMs float64 `json:"maxSendLagMs"`
	PollMs       float64 `json:"pollMs"` // interval of the visibility poll
	// Visible is receivedAt to the start of the first poll that saw the
	// row: an upper bound of the commit latency, at most PollMs above it.
	Visible Percentiles `json:"visible"`
	// Written is receivedAt to clock_timestamp() when the sink inserted
	// the row, inside its transaction: a lower bound of the commit latency.
	Written Percentiles `json:"written"`
	// PeakRSSMiB is VmHWM of each role's process, read from /proc just
	// before it was stopped, keyed by role.
	PeakRSSMiB map[string]float64 `json:"peakRssMiB"`
}

// Percentiles are latency percentiles in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// LatencyRoles are the roles of a latency run, in table order.
var LatencyRoles = []string{"serve", "process", "sink-postgres"}
