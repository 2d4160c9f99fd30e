package benchreport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ProfileRun is a benchmark run with -cpuprofile and pprof's views of its
// profile. For a profile NAME, scripts/bench/run.sh writes the commands to
// NAME.cmd, the output of `go test` to NAME-bench.txt and `go tool pprof
// -top` to NAME-top.txt, or the reason it did not run to NAME.skipped.
// Depending on the profile, it adds a cumulative view as NAME-cum.txt and
// `go tool pprof -traces` as NAME-traces.txt. A run with -trace adds
// NAME-syscall.txt and NAME-sync.txt, `go tool pprof -traces` of the
// blocking profiles that `go tool trace -pprof=syscall` and `-pprof=sync`
// derive from the execution trace.
type ProfileRun struct {
	Command string
	// Bench holds the result lines of the profiled run.
	Bench []GoBenchmark
	Top   string // `go tool pprof -top` output
	Cum   string // a cumulative view, or "" when the profile has none
	// Traces is the parsed `go tool pprof -traces` output, or nil when the
	// profile has none.
	Traces *Profile
	// Syscalls and Waits are the time that goroutines spent blocked in
	// system calls and on channels, selects and locks, or nil.
	Syscalls, Waits *Profile
	Skipped         string
}

// loadProfileRun reads the files of profile name. A profile whose command
// file is missing was not part of the run, and returns a zero ProfileRun.
func loadProfileRun(dir, name string) (ProfileRun, error) {
	run := ProfileRun{}
	if _, err := os.Stat(filepath.Join(dir, name+".cmd")); errors.Is(err, fs.ErrNotExist) {
		return run, nil
	}
	var err error
	if run.Command, err = readCommand(dir, name); err != nil {
		return run, err
	}
	if run.Skipped, err = readSkipped(dir, name); err != nil || run.Skipped != "" {
		return run, err
	}

	bench, err := os.ReadFile(filepath.Join(dir, name+"-bench.txt"))
	if err != nil {
		return run, fmt.Errorf("reading the benchmark output of %s: %w", name, err)
	}
	if run.Bench, err = ParseGoBench(strings.NewReader(string(bench))); err != nil {
		return run, fmt.Errorf("%s: %w", name, err)
	}
	top, err := os.ReadFile(filepath.Join(dir, name+"-top.txt"))
	if err != nil {
		return run, fmt.Errorf("reading the pprof output of %s: %w", name, err)
	}
	run.Top = string(top)
	if run.Cum, err = readOptional(filepath.Join(dir, name+"-cum.txt")); err != nil {
		return run, err
	}
	for view, dest := range map[string]**Profile{"traces": &run.Traces, "syscall": &run.Syscalls, "sync": &run.Waits} {
		if *dest, err = readTraces(dir, name, view); err != nil {
			return run, err
		}
	}
	return run, nil
}

// readTraces parses NAME-VIEW.txt, or returns nil when it does not exist.
func readTraces(dir, name, view string) (*Profile, error) {
	traces, err := readOptional(filepath.Join(dir, name+"-"+view+".txt"))
	if err != nil || traces == "" {
		return nil, err
	}
	profile, err := ParseTraces(traces)
	if err != nil {
		return nil, fmt.Errorf("%s-%s: %w", name, view, err)
	}
	return &profile, nil
}

// readOptional returns the content of path, or "" when it does not exist.
func readOptional(path string) (string, error) {
	content, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", filepath.Base(path), err)
	}
	return string(content), nil
}
