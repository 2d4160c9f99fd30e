package benchreport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"mailtriage/internal/benchparse"
)

// Files that scripts/bench/run.sh writes into the results folder. Each
// measurement NAME has NAME.cmd with the exact command line, and either its
// output (NAME.json for a parse runner, NAME.txt for `go test -bench`) or
// NAME.skipped with the reason it was not run.
const (
	MachineFile = "machine.json"
	QuickFile   = "quick" // present when the run used the shortened limits
	// ParseSettingsFile holds the ParseSettings, unless parse.skipped exists.
	ParseSettingsFile = "parse-settings.json"
)

// ParseSets are the corpus selections of the parsing table, and
// ParseRunners the runners in the order of its rows. The results file of
// one cell is parse-SET-RUNNER.json.
var (
	ParseSets    = []string{"all", "listed"}
	ParseRunners = []string{"mailtriage", "enmime", "python-email", "mailparser"}
)

// Inputs is everything one report is made from.
type Inputs struct {
	Machine Machine
	Quick   bool
	// Parse holds one row list per ParseSets entry.
	Parse [][]ParseRun
	// ParseSkipped is the reason no parser ran, or "".
	ParseSkipped  string
	ParseSettings ParseSettings
	// ParseProfile is the CPU profile of mailtriage's parser, as the top
	// functions that `go tool pprof -top` lists.
	ParseProfile TextRun
	// LoadAvgEnd is the load average when the report was made, at the end
	// of the run.
	LoadAvgEnd string
	Chain      GoRun
	Codec      GoRun
	Gateway    GoRun
	// Topology is the output of BenchmarkTopology (processors/runner).
	Topology GoRun
	// Baseline is the output of BenchmarkBaseline (processors/runner).
	Baseline GoRun
	// ChainProfile, TopologyProfile and GatewayProfile are CPU profiles of
	// the benchmarks whose targets are missed, each from a run of its own.
	ChainProfile    ProfileRun
	TopologyProfile ProfileRun
	GatewayProfile  ProfileRun
	// Latency is the output of `mailtriage-bench latency` at the default
	// rate, and LatencyTarget at the target's rate.
	Latency       LatencyRun
	LatencyTarget LatencyRun
}

// ParseRun is the outcome of one parse runner.
type ParseRun struct {
	Runner  string // one of ParseRunners
	Command string
	Result  *benchparse.Result // nil when skipped
	Skipped string
}

// TextRun is the outcome of a command whose output the report shows as
// it is.
type TextRun struct {
	Command string
	Output  string
	Skipped string
}

// GoRun is the outcome of one `go test -bench` command.
type GoRun struct {
	Command    string
	Benchmarks []GoBenchmark
	Skipped    string
}

// LoadDir reads the results folder of one run.
func LoadDir(dir string) (*Inputs, error) {
	in := &Inputs{}
	if err := readJSON(filepath.Join(dir, MachineFile), &in.Machine); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, QuickFile)); err == nil {
		in.Quick = true
	}

	in.LoadAvgEnd = readLoadAvg()

	var err error
	if in.ParseSkipped, err = readSkipped(dir, "parse"); err != nil {
		return nil, err
	}
	if in.ParseSkipped == "" {
		if err := readJSON(filepath.Join(dir, ParseSettingsFile), &in.ParseSettings); err != nil {
			return nil, err
		}
		for _, set := range ParseSets {
			var rows []ParseRun
			for _, runner := range ParseRunners {
				row, err := loadParseRun(dir, "parse-"+set+"-"+runner)
				row.Runner = runner
				if err != nil {
					return nil, err
				}
				rows = append(rows, row)
			}
			in.Parse = append(in.Parse, rows)
		}
		if in.ParseProfile, err = loadTextRun(dir, "profile-mailtriage"); err != nil {
			return nil, err
		}
	}

	for name, run := range map[string]*GoRun{"chain": &in.Chain, "codec": &in.Codec, "gateway": &in.Gateway, "topology": &in.Topology, "baseline": &in.Baseline} {
		if *run, err = loadGoRun(dir, name); err != nil {
			return nil, err
		}
	}
	for name, run := range map[string]*ProfileRun{"profile-chain": &in.ChainProfile,
		"profile-topology": &in.TopologyProfile, "profile-gateway": &in.GatewayProfile} {
		if *run, err = loadProfileRun(dir, name); err != nil {
			return nil, err
		}
	}
	if in.Latency, err = loadLatencyRun(dir, "latency"); err != nil {
		return nil, err
	}
	if in.LatencyTarget, err = loadLatencyRun(dir, "latency-target"); err != nil {
		return nil, err
	}
	return in, nil
}

func loadParseRun(dir, name string) (ParseRun, error) {
	run := ParseRun{}
	var err error
	if run.Command, err = readCommand(dir, name); err != nil {
		return run, err
	}
	if run.Skipped, err = readSkipped(dir, name); err != nil || run.Skipped != "" {
		return run, err
	}
	run.Result = &benchparse.Result{}
	return run, readJSON(filepath.Join(dir, name+".json"), run.Result)
}

func loadTextRun(dir, name string) (TextRun, error) {
	run := TextRun{}
	var err error
	if run.Command, err = readCommand(dir, name); err != nil {
		return run, err
	}
	if run.Skipped, err = readSkipped(dir, name); err != nil || run.Skipped != "" {
		return run, err
	}
	output, err := os.ReadFile(filepath.Join(dir, name+".txt"))
	if err != nil {
		return run, fmt.Errorf("reading the output of %s: %w", name, err)
	}
	run.Output = string(output)
	return run, nil
}

func loadGoRun(dir, name string) (GoRun, error) {
	run := GoRun{}
	var err error
	if run.Command, err = readCommand(dir, name); err != nil {
		return run, err
	}
	if run.Skipped, err = readSkipped(dir, name); err != nil || run.Skipped != "" {
		return run, err
	}
	f, err := os.Open(filepath.Join(dir, name+".txt"))
	if err != nil {
		return run, fmt.Errorf("reading the output of %s: %w", name, err)
	}
	defer f.Close()
	if run.Benchmarks, err = ParseGoBench(f); err != nil {
		return run, fmt.Errorf("%s: %w", name, err)
	}
	if len(run.Benchmarks) == 0 {
		return run, fmt.Errorf("%s: no benchmark result line in %s; read it for the failure", name, f.Name())
	}
	return run, nil
}

func readCommand(dir, name string) (string, error) {
	content, err := os.ReadFile(filepath.Join(dir, name+".cmd"))
	if err != nil {
		return "", fmt.Errorf("reading the command of %s: %w", name, err)
	}
	return strings.TrimSpace(string(content)), nil
}

// readSkipped returns the reason in NAME.skipped, or "" when there is no
// such file.
func readSkipped(dir, name string) (string, error) {
	content, err := os.ReadFile(filepath.Join(dir, name+".skipped"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading why %s was skipped: %w", name, err)
	}
	return strings.TrimSpace(string(content)), nil
}

func readJSON(path string, v any) error {
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", filepath.Base(path), err)
	}
	if err := json.Unmarshal(content, v); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}
