package main

import "flag"

// metricsAddrUsage is the help text of --metrics-addr, which every
// long-running role has.
const metricsAddrUsage = "`address` (host:port) of the Prometheus /metrics endpoint, such as 127.0.0.1:9464; empty (the default) serves no metrics"

// addMetricsFlag registers --metrics-addr on fs, writing into addr.
func addMetricsFlag(fs *flag.FlagSet, addr *string) {
	fs.StringVar(addr, "metrics-addr", "", metricsAddrUsage)
}
