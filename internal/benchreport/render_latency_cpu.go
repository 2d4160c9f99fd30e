package benchreport

import (
	"fmt"
	"strings"
)

// latencyProcessNames are the table names of LatencyProcesses.
var latencyProcessNames = map[string]string{
	"postgresql-sink-backends": "PostgreSQL backends of the sink",
	"kafka-broker":             "Kafka broker, for all its clients",
	"mailtriage-bench":         "mailtriage-bench: sender and pollers",
}

// renderCPU writes the CPU time of each process of a latency run, the
// rest of the machine and the machine's total in the sampled window.
func renderCPU(b *strings.Builder, r *LatencyResult) {
	u := r.CPU
	if u == nil || u.WindowSeconds <= 0 {
		return
	}
	fmt.Fprintf(b, "\nCPU time in the %.1f s from the start of the timed load until the last row was seen or the "+
		"run stopped waiting, on %d CPUs. *cores* is CPU seconds per second of the window, and *share* is "+
		"the part of the machine's busy CPU time.\n\n", u.WindowSeconds, u.CPUs)
	b.WriteString("| process | CPU s | cores | CPU ms per accepted email | share |\n|---|---|---|---|---|\n")
	listed := 0.0
	for _, name := range LatencyProcesses {
		seconds, ok := u.ProcessSeconds[name]
		label := name
		if text, found := latencyProcessNames[name]; found {
			label = text
		}
		if !ok {
			fmt.Fprintf(b, "| %s | not found | | | |\n", label)
			continue
		}
		listed += seconds
		writeCPURow(b, label, seconds, u, r.Accepted)
	}
	writeCPURow(b, "everything else: other PostgreSQL backends, other jobs", max(u.MachineBusySeconds-listed, 0), u, r.Accepted)
	writeCPURow(b, "all processes", u.MachineBusySeconds, u, r.Accepted)

	capacity := u.WindowSeconds * float64(u.CPUs)
	fmt.Fprintf(b, "\n- The CPUs were busy %.0f%% of the window (%.1f of %.1f CPU s).\n",
		100*u.MachineBusySeconds/capacity, u.MachineBusySeconds, capacity)
}

func writeCPURow(b *strings.Builder, label string, seconds float64, u *CPUUsage, accepted int) {
	perEmail := ""
	if accepted > 0 {
		perEmail = fmt.Sprintf("%.2f", 1000*seconds/float64(accepted))
	}
	share := ""
	if u.MachineBusySeconds > 0 {
		share = fmt.Sprintf("%.0f%%", 100*seconds/u.MachineBusySeconds)
	}
	fmt.Fprintf(b, "| %s | %.1f | %.2f | %s | %s |\n", label, seconds, seconds/u.WindowSeconds, perEmail, share)
}
