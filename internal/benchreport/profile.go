package benchreport

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Profile is a CPU profile as `go tool pprof -traces` prints it: every
// distinct stack with its CPU time and profiler labels.
type Profile struct {
	DurationSeconds float64 // wall time the profile covers
	SampleSeconds   float64 // CPU time of all its samples
	Samples         []ProfileSample
}

// ProfileSample is one distinct stack of a profile.
type ProfileSample struct {
	Seconds float64
	Labels  map[string]string
	Frames  []string // function names, the innermost first
}

// profileHeader matches pprof's line "Duration: 2.49s, Total samples =
// 2.15s (86.28%)".
var profileHeader = regexp.MustCompile(`^Duration: (\S+), Total samples = (\S+)`)

// traceSeparator starts each stack in -traces output.
const traceSeparator = "-----------+"

// ParseTraces reads the output of `go tool pprof -traces`. Each stack
// follows a separator line: label lines ("key:  value"), then a line with
// the CPU time and the innermost function, then one line per caller.
func ParseTraces(output string) (Profile, error) {
	var p Profile
	var current *ProfileSample
	finish := func() {
		if current != nil && len(current.Frames) > 0 {
			p.Samples = append(p.Samples, *current)
		}
		current = nil
	}
	for _, line := range strings.Split(output, "\n") {
		if m := profileHeader.FindStringSubmatch(line); m != nil {
			var err error
			if p.DurationSeconds, err = parsePprofSeconds(strings.TrimSuffix(m[1], ",")); err != nil {
				return p, err
			}
			if p.SampleSeconds, err = parsePprofSeconds(m[2]); err != nil {
				return p, err
			}
			continue
		}
		if strings.HasPrefix(line, traceSeparator) {
			finish()
			current = &ProfileSample{Labels: map[string]string{}}
			continue
		}
		if current == nil || strings.TrimSpace(line) == "" {
			continue
		}
		if err := current.addLine(line); err != nil {
			return p, err
		}
	}
	finish()
	if len(p.Samples) == 0 {
		return p, fmt.Errorf("no stack in the pprof -traces output")
	}
	return p, nil
}

// addLine adds one line of a stack block: a label, the line with the
// time and the innermost frame, or a caller.
func (s *ProfileSample) addLine(line string) error {
	fields := strings.Fields(line)
	if len(s.Frames) == 0 {
		if len(fields) >= 1 && strings.HasSuffix(fields[0], ":") {
			s.Labels[strings.TrimSuffix(fields[0], ":")] = strings.Join(fields[1:], " ")
			return nil
		}
		if len(fields) < 2 {
			return fmt.Errorf("invalid pprof -traces line %q: expected a time and a function", line)
		}
		seconds, err := parsePprofSeconds(fields[0])
		if err != nil {
			return err
		}
		s.Seconds = seconds
		s.Frames = append(s.Frames, strings.Join(fields[1:], " "))
		return nil
	}
	s.Frames = append(s.Frames, strings.Join(fields, " "))
	return nil
}

// parsePprofSeconds parses a time as pprof prints it, such as "10ms",
// "2.15s", "0" or "1.50mins".
func parsePprofSeconds(text string) (float64, error) {
	if text == "0" {
		return 0, nil
	}
	for _, unit := range []struct {
		suffix  string
		seconds float64
	}{{"hrs", 3600}, {"mins", 60}} {
		if number, ok := strings.CutSuffix(text, unit.suffix); ok {
			value, err := strconv.ParseFloat(number, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid pprof time %q", text)
			}
			return value * unit.seconds, nil
		}
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("invalid pprof time %q", text)
	}
	return d.Seconds(), nil
}

// Filter returns the profile with only the samples that have a frame
// that frame matches.
func (p Profile) Filter(frame *regexp.Regexp) Profile {
	out := Profile{DurationSeconds: p.DurationSeconds}
	for _, s := range p.Samples {
		for _, f := range s.Frames {
			if frame.MatchString(f) {
				out.Samples = append(out.Samples, s)
				out.SampleSeconds += s.Seconds
				break
			}
		}
	}
	return out
}

// ProfileCategory is a class of samples in a breakdown: those that carry
// Label, when it is set, and have a frame that Frame matches, when it is
// set.
type ProfileCategory struct {
	Name  string
	Label string // "key=value"
	Frame *regexp.Regexp
	// Excluded leaves the category's samples out of the shares, such as
	// the setup of a benchmark that the timer does not cover.
	Excluded bool
}

func (c ProfileCategory) matches(s ProfileSample) bool {
	if c.Label != "" {
		key, value, _ := strings.Cut(c.Label, "=")
		if s.Labels[key] != value {
			return false
		}
	}
	if c.Frame == nil {
		return true
	}
	for _, frame := range s.Frames {
		if c.Frame.MatchString(frame) {
			return true
		}
	}
	return false
}

// CategoryShare is the CPU time of one category of a breakdown.
type CategoryShare struct {
	Name    string
	Seconds float64
	Share   float64 // of the CPU time of all categories that are not excluded
}

// Breakdown is the CPU time of a profile split into categories.
type Breakdown struct {
	Shares []CategoryShare // in the order of the categories, then "other"
	// Excluded holds the excluded categories in their order, with a share
	// of 0.
	Excluded []CategoryShare
}

// OtherCategory names the samples that no category matches.
const OtherCategory = "other"

// Breakdown assigns every sample to the first category that matches it,
// or to OtherCategory, and returns the CPU time of each. The categories
// do not overlap, so the shares add up to 1.
func (p Profile) Breakdown(categories []ProfileCategory) Breakdown {
	seconds := make([]float64, len(categories)+1)
	for _, s := range p.Samples {
		i := len(categories)
		for j, c := range categories {
			if c.matches(s) {
				i = j
				break
			}
		}
		seconds[i] += s.Seconds
	}

	var out Breakdown
	included := 0.0
	for i, c := range categories {
		if c.Excluded {
			out.Excluded = append(out.Excluded, CategoryShare{Name: c.Name, Seconds: seconds[i]})
		} else {
			included += seconds[i]
		}
	}
	included += seconds[len(categories)]
	for i := range seconds {
		name := OtherCategory
		if i < len(categories) {
			if categories[i].Excluded {
				continue
			}
			name = categories[i].Name
		}
		share := 0.0
		if included > 0 {
			share = seconds[i] / included
		}
		out.Shares = append(out.Shares, CategoryShare{Name: name, Seconds: seconds[i], Share: share})
	}
	return out
}

// PprofRow is one function line of `go tool pprof -top`.
type PprofRow struct {
	Name        string
	Flat, Cum   float64 // seconds
	FlatPercent float64
	CumPercent  float64
}

// ParsePprofTop reads the function lines of `go tool pprof -top` output
// and skips every other line.
func ParsePprofTop(output string) []PprofRow {
	var rows []PprofRow
	for _, line := range strings.Split(output, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 || !strings.HasSuffix(fields[1], "%") || !strings.HasSuffix(fields[4], "%") {
			continue
		}
		// The columns are flat, flat%, sum%, cum, cum% and the function.
		flat, err1 := parsePprofSeconds(fields[0])
		flatPct, err2 := strconv.ParseFloat(strings.TrimSuffix(fields[1], "%"), 64)
		cum, err3 := parsePprofSeconds(fields[3])
		cumPct, err4 := strconv.ParseFloat(strings.TrimSuffix(fields[4], "%"), 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		rows = append(rows, PprofRow{Name: strings.Join(fields[5:], " "), Flat: flat, FlatPercent: flatPct,
			Cum: cum, CumPercent: cumPct})
	}
	return rows
}
