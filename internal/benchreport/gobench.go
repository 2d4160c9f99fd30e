// Package benchreport writes the generated section of BENCHMARKS.md from
// the files that scripts/bench/run.sh collects in one `make bench` run:
// the machine description, the parse results of each runner and the
// output of the Go benchmarks it runs.
package benchreport

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"mailtriage/internal/benchparse"
)

// GoBenchmark is one benchmark of `go test -bench` output. With -count N
// the output holds N result lines per benchmark; Runs keeps the values of
// each unit across them.
type GoBenchmark struct {
	Name string
	Runs map[string][]float64 // unit, such as "ns/op" or "emails/s", to one value per result line
	// Iterations is b.N of each result line.
	Iterations []int
}

// Median returns the median of the values of unit, and false when no
// result line carries unit.
func (b GoBenchmark) Median(unit string) (float64, bool) {
	values := b.Runs[unit]
	if len(values) == 0 {
		return 0, false
	}
	return benchparse.Median(values), true
}

// Count returns the number of result lines of the benchmark.
func (b GoBenchmark) Count() int { return len(b.Runs["ns/op"]) }

// procsSuffix is the -GOMAXPROCS suffix that `go test` adds to a benchmark
// name when GOMAXPROCS is not 1.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// ParseGoBench reads the result lines of `go test -bench` output, in the
// order the benchmarks first appear. Other lines (goos, PASS, ok) are
// ignored.
func ParseGoBench(r io.Reader) ([]GoBenchmark, error) {
	var order []string
	byName := map[string]*GoBenchmark{}

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// A result line is: name, iterations, then value-unit pairs.
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		iterations, err := strconv.Atoi(fields[1])
		if err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(fields[0], "")
		b, ok := byName[name]
		if !ok {
			b = &GoBenchmark{Name: name, Runs: map[string][]float64{}}
			byName[name] = b
			order = append(order, name)
		}
		b.Iterations = append(b.Iterations, iterations)
		for i := 2; i+1 < len(fields); i += 2 {
			value, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: value %q is not a number", sc.Text(), fields[i])
			}
			b.Runs[fields[i+1]] = append(b.Runs[fields[i+1]], value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading benchmark output: %w", err)
	}

	out := make([]GoBenchmark, len(order))
	for i, name := range order {
		out[i] = *byName[name]
	}
	return out, nil
}

// Find returns the benchmark called name, and false when there is none.
func Find(benchmarks []GoBenchmark, name string) (GoBenchmark, bool) {
	for _, b := range benchmarks {
		if b.Name == name {
			return b, true
		}
	}
	return GoBenchmark{}, false
}
