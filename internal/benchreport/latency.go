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
	// Answered is the time from the start of each accepted request to its
	// 202 response: the gateway's part, with the HTTP round trip.
	Answered Percentiles `json:"answered"`
	// Processed is receivedAt to the time a read_committed consumer of
	// the tickets topic got the email's ticket command: an upper bound of
	// the processor's commit.
	Processed Percentiles `json:"processed"`
	// ProcessedCount is the number of accepted emails whose ticket command
	// was seen on the tickets topic.
	ProcessedCount int `json:"processedCount"`
	// ProcessedRate and WrittenRate are the emails per second from the
	// first email to the last at two steps: the ticket command seen on the
	// tickets topic, and the row inserted by the sink. A step that keeps
	// up runs at about AchievedRate.
	ProcessedRate float64 `json:"processedRate"`
	WrittenRate   float64 `json:"writtenRate"`
	// Visible is receivedAt to the start of the first poll that saw the
	// row: an upper bound of the commit latency, at most PollMs above it.
	Visible Percentiles `json:"visible"`
	// Written is receivedAt to clock_timestamp() when the sink inserted
	// the row, inside its transaction: a lower bound of the commit latency.
	Written Percentiles `json:"written"`
	// PeakRSSMiB is VmHWM of each role's process, read from /proc just
	// before it was stopped, keyed by role.
	PeakRSSMiB map[string]float64 `json:"peakRssMiB"`
	// CPU is the CPU time used during the timed load and the drain that
	// follows it; nil when it could not be read.
	CPU *CPUUsage `json:"cpu,omitempty"`
}

// CPUUsage is the CPU time that each process of a latency run and the
// whole machine used in one window, from /proc/PID/stat and /proc/stat.
type CPUUsage struct {
	WindowSeconds float64 `json:"windowSeconds"` // wall time between the two samples
	CPUs          int     `json:"cpus"`
	// ProcessSeconds is user plus system CPU seconds, keyed by the names
	// of LatencyProcesses. A process that was not found is missing.
	ProcessSeconds map[string]float64 `json:"processSeconds"`
	// MachineBusySeconds is the busy time of all CPUs, so it includes
	// every other job on the machine too.
	MachineBusySeconds float64 `json:"machineBusySeconds"`
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

// LatencyProcesses are the processes whose CPU time a latency run
// samples, in table order: the roles, the PostgreSQL backends that serve
// the sink, the Kafka broker and mailtriage-bench itself, which sends the
// webhooks and polls for the rows.
var LatencyProcesses = append(append([]string(nil), LatencyRoles...),
	"postgresql-sink-backends", "kafka-broker", "mailtriage-bench")
