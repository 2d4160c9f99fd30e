package benchreport

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where and when a run happened. Collect fills it at
// the start of the run.
type Machine struct {
	Date      time.Time         `json:"date"`
	CPUModel  string            `json:"cpuModel"`
	CPUs      int               `json:"cpus"` // usable by the process, as nproc counts them
	MemoryMiB int64             `json:"memoryMiB"`
	Kernel    string            `json:"kernel"`
	LoadAvg   string            `json:"loadAvg"` // 1, 5 and 15 minute load averages at the start
	Tools     map[string]string `json:"tools"`   // tool name to version, such as "Python" to "3.11.7"
}

// Collect describes this machine now from /proc, with the tool versions
// the caller measured.
func Collect(tools map[string]string) (Machine, error) {
	m := Machine{Date: time.Now().UTC().Truncate(time.Second), CPUs: runtime.NumCPU(), Tools: tools}
	m.Tools["Go"] = runtime.Version()

	var err error
	if m.CPUModel, err = procField("/proc/cpuinfo", "model name"); err != nil {
		return Machine{}, err
	}
	memTotal, err := procField("/proc/meminfo", "MemTotal")
	if err != nil {
		return Machine{}, err
	}
	kib, err := strconv.ParseInt(strings.TrimSuffix(memTotal, " kB"), 10, 64)
	if err != nil {
		return Machine{}, fmt.Errorf("reading MemTotal of /proc/meminfo: %q is not a size in kB", memTotal)
	}
	m.MemoryMiB = kib >> 10

	m.LoadAvg = readLoadAvg()
	if release, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(release))
	}
	return m, nil
}

// procField returns the value of the first "key : value" line of a /proc
// file whose key is key.
func procField(path, key string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()

	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(name) == key {
			return strings.TrimSpace(value), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return "", fmt.Errorf("no %q line in %s", key, path)
}

// readLoadAvg returns the 1, 5 and 15 minute load averages, or "unknown"
// when /proc/loadavg cannot be read.
func readLoadAvg() string {
	load, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(load))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
