package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtriage/internal/benchreport"
)

// clockTicksPerSecond is the unit of the CPU times in /proc/PID/stat and
// /proc/stat. Linux fixes USER_HZ at 100 on every architecture it exports
// these files for, which is what sysconf(_SC_CLK_TCK) returns.
const clockTicksPerSecond = 100

// Names of the processes that a latency run samples besides the roles;
// benchreport.LatencyProcesses lists them all in table order.
const (
	cpuBench       = "mailtriage-bench"
	cpuSinkBackend = "postgresql-sink-backends"
	cpuKafka       = "kafka-broker"
)

// cpuSampler finds the processes whose CPU time a latency run reports.
type cpuSampler struct {
	roles []*role
	// baseDSN connects to PostgreSQL to find the backends whose
	// application_name is sinkApplication.
	baseDSN         string
	sinkApplication string
	// kafkaPIDFile is the file with the PID of the local Kafka broker, or
	// "" when it is unknown.
	kafkaPIDFile string
}

// cpuSample is the CPU time in clock ticks that each process has used so
// far, grouped by name (a role, cpuBench, cpuSinkBackend, cpuKafka) and
// PID, and the busy time of the whole machine.
type cpuSample struct {
	processes map[string]map[int]uint64
	machine   uint64 // busy time of all CPUs: everything but idle and iowait
}

// sample reads /proc/PID/stat of every process and /proc/stat. A process
// group that cannot be found (no PID file, no backend yet) is left out.
func (c *cpuSampler) sample(ctx context.Context) (cpuSample, error) {
	s := cpuSample{processes: map[string]map[int]uint64{}}
	pids := map[string][]int{cpuBench: {os.Getpid()}}
	for _, r := range c.roles {
		pids[r.name] = []int{r.cmd.Process.Pid}
	}
	backends, err := c.sinkBackends(ctx)
	if err != nil {
		return s, err
	}
	pids[cpuSinkBackend] = backends
	if pid, ok := c.kafkaPID(); ok {
		pids[cpuKafka] = []int{pid}
	}

	for name, list := range pids {
		s.processes[name] = map[int]uint64{}
		for _, pid := range list {
			ticks, err := processTicks(fmt.Sprintf("/proc/%d/stat", pid))
			// A backend or the broker may exit between the listing and
			// the read; a role may not.
			if errors.Is(err, os.ErrNotExist) && name != cpuBench && !c.isRole(name) {
				continue
			}
			if err != nil {
				return s, fmt.Errorf("reading the CPU time of %s (PID %d): %w", name, pid, err)
			}
			s.processes[name][pid] = ticks
		}
	}

	content, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	if s.machine, err = parseMachineTicks(string(content)); err != nil {
		return s, err
	}
	return s, nil
}

// sinkBackends returns the PIDs of the PostgreSQL backends that serve the
// sink. They are local processes only when PostgreSQL runs on this
// machine, as the stack's does; otherwise /proc has none of them.
func (c *cpuSampler) sinkBackends(ctx context.Context) ([]int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.baseDSN)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL to find the sink's backends: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", c.sinkApplication)
	if err != nil {
		return nil, fmt.Errorf("listing the sink's PostgreSQL backends: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("listing the sink's PostgreSQL backends: %w", err)
	}
	out := make([]int, 0, len(pids))
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			out = append(out, int(pid))
		}
	}
	return out, nil
}

func (c *cpuSampler) isRole(name string) bool {
	for _, r := range c.roles {
		if r.name == name {
			return true
		}
	}
	return false
}

func (c *cpuSampler) kafkaPID() (int, bool) {
	if c.kafkaPIDFile == "" {
		return 0, false
	}
	content, err := os.ReadFile(c.kafkaPIDFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(content)))
	if err != nil {
		return 0, false
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err != nil {
		return 0, false
	}
	return pid, true
}

// cpuUsage returns the CPU seconds that each process group and the
// machine used between before and after, over a window of windowSeconds.
// A process that started in the window counts with all its CPU time, and
// one that ended in it is left out.
func cpuUsage(before, after cpuSample, windowSeconds float64) *benchreport.CPUUsage {
	u := &benchreport.CPUUsage{
		WindowSeconds:      windowSeconds,
		CPUs:               runtime.NumCPU(),
		ProcessSeconds:     map[string]float64{},
		MachineBusySeconds: tickSeconds(before.machine, after.machine),
	}
	for name, pids := range after.processes {
		if len(pids) == 0 {
			continue
		}
		total := 0.0
		for pid, end := range pids {
			total += tickSeconds(before.processes[name][pid], end)
		}
		u.ProcessSeconds[name] = total
	}
	return u
}

// tickSeconds returns end minus start in seconds, or 0 when a counter went
// backwards, as when a PID was reused.
func tickSeconds(start, end uint64) float64 {
	if end < start {
		return 0
	}
	return float64(end-start) / clockTicksPerSecond
}

func processTicks(path string) (uint64, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseProcessTicks(string(content))
}

// parseProcessTicks returns utime plus stime, the 14th and 15th fields of
// a /proc/PID/stat line. The second field, the command name in brackets,
// may contain spaces, so the fields are counted after its closing bracket.
func parseProcessTicks(stat string) (uint64, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("invalid /proc/PID/stat line %q: no closing bracket after the command name", stat)
	}
	// fields[0] is the 3rd field (state), so utime and stime are 11 and 12.
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("invalid /proc/PID/stat line %q: %d fields after the command name, expected at least 13", stat, len(fields))
	}
	var total uint64
	for _, field := range fields[11:13] {
		ticks, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid CPU time %q in /proc/PID/stat", field)
		}
		total += ticks
	}
	return total, nil
}

// parseMachineTicks returns the busy time of all CPUs from the "cpu" line
// of /proc/stat: user, nice, system, irq, softirq and steal. Idle and
// iowait are left out. Guest time is already part of user and nice.
func parseMachineTicks(stat string) (uint64, error) {
	line, _, _ := strings.Cut(stat, "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("invalid first line of /proc/stat %q: expected \"cpu\" and at least 8 times", line)
	}
	var total uint64
	for i, field := range fields[1:9] {
		ticks, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid CPU time %q in /proc/stat", field)
		}
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		total += ticks
	}
	return total, nil
}

// withApplicationName returns dsn, a postgres:// URL, with its
// application_name set to name, so that pg_stat_activity shows which
// backends serve the connections made with it.
func withApplicationName(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", errors.New("invalid PostgreSQL DSN: not a URL")
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
