// Command mailtriage-bench is the Go side of `make bench`
// (scripts/bench/run.sh): it describes the machine, packs the MIME corpus,
// measures the Go parsers over the pack and writes the generated section of
// BENCHMARKS.md.
//
//	mailtriage-bench machine --tool Python=3.11.7 > machine.json
//	mailtriage-bench pack --corpus DIR [--listed FILE] --out PACKDIR
//	mailtriage-bench parse --parser mailtriage --pack PACKDIR > result.json
//	mailtriage-bench latency --mailtriage BIN [--rate 200 --duration 30s] > latency.json
//	mailtriage-bench report --results DIR --out BENCHMARKS.md
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"mailtriage/internal/benchparse"
	"mailtriage/internal/benchreport"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	commands := map[string]func([]string) error{
		"latency": runLatency,
		"machine": runMachine,
		"pack":    runPack,
		"parse":   runParse,
		"report":  runReport,
	}
	run, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "mailtriage-bench: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "mailtriage-bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mailtriage-bench machine|pack|parse|latency|report [flags]; add -h for the flags of one")
}

// toolFlags collects repeated --tool NAME=VERSION flags.
type toolFlags map[string]string

func (t toolFlags) String() string { return fmt.Sprint(map[string]string(t)) }

func (t toolFlags) Set(value string) error {
	name, version, ok := strings.Cut(value, "=")
	if !ok || name == "" {
		return fmt.Errorf("invalid tool %q; write NAME=VERSION, such as Python=3.11.7", value)
	}
	t[name] = version
	return nil
}

func runMachine(args []string) error {
	fs := flag.NewFlagSet("machine", flag.ContinueOnError)
	tools := toolFlags{}
	fs.Var(tools, "tool", "NAME=VERSION of a tool the run uses; repeat for each")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := benchreport.Collect(tools)
	if err != nil {
		return err
	}
	return writeJSON(m)
}

func runPack(args []string) error {
	fs := flag.NewFlagSet("pack", flag.ContinueOnError)
	var opts benchparse.PackOptions
	fs.StringVar(&opts.Corpus, "corpus", "", "corpus folder to read (required)")
	fs.StringVar(&opts.Listed, "listed", "", "file listing the corpus paths to keep, one per line; empty keeps every file")
	out := fs.String("out", "", "folder to write the pack into; created when missing (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if opts.Corpus == "" || *out == "" {
		return errors.New("--corpus and --out are required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("creating the pack folder: %w", err)
	}
	index, err := benchparse.WritePack(context.Background(), opts, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "packed %d messages, %d bytes (%s) into %s\n", len(index.Messages), index.Bytes, index.Selection, *out)
	return nil
}

func runParse(args []string) error {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	parser := fs.String("parser", "", fmt.Sprintf("Go parser to measure, one of %v (required)", benchparse.ParserNames()))
	packDir := fs.String("pack", "", "pack folder written by the pack command (required)")
	var limits benchparse.Limits
	fs.IntVar(&limits.MinPasses, "min-passes", 3, "timed passes before the run may stop on time")
	fs.IntVar(&limits.MaxPasses, "max-passes", 5, "maximum timed passes")
	minSeconds := fs.Float64("min-seconds", 3, "seconds of timed passes after which the run stops, once min-passes are done")
	maxSeconds := fs.Float64("max-seconds", 60, "hard cap on the seconds of timed passes")
	cpuProfile := fs.String("cpuprofile", "", "file to write a CPU profile of the timed passes to; empty writes none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *parser == "" || *packDir == "" {
		return errors.New("--parser and --pack are required")
	}
	limits.MinTime = time.Duration(*minSeconds * float64(time.Second))
	limits.MaxTime = time.Duration(*maxSeconds * float64(time.Second))

	pack, err := benchparse.ReadPack(*packDir)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	res, err := benchparse.Run(*parser, pack, limits)
	if err != nil {
		return err
	}
	return writeJSON(res)
}

func runReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	results := fs.String("results", "", "results folder of the run (required)")
	out := fs.String("out", "", "Markdown file whose generated section is rewritten; - prints the section alone (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *results == "" || *out == "" {
		return errors.New("--results and --out are required")
	}
	in, err := benchreport.LoadDir(*results)
	if err != nil {
		return err
	}
	section := benchreport.Render(in)
	if *out == "-" {
		_, err := fmt.Print(section)
		return err
	}

	doc, err := os.ReadFile(*out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", *out, err)
	}
	updated, err := benchreport.ReplaceSection(string(doc), section)
	if err != nil {
		return fmt.Errorf("%s: %w", *out, err)
	}
	return os.WriteFile(*out, []byte(updated), 0o644)
}

// startCPUProfile starts a CPU profile into path and returns the function
// that stops it. The profile covers the warm-up pass too.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func writeJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(v)
}
