package importer

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress receives the progress of an import. Run calls Start once, then
// Update after each finished message with the number finished so far, and
// Finish once at the end. Run serializes the calls.
type Progress interface {
	Start(total int)
	Update(finished int)
	Finish(finished int)
}

type noProgress struct{}

func (noProgress) Start(int)  {}
func (noProgress) Update(int) {}
func (noProgress) Finish(int) {}

// Defaults of LineProgress.
const (
	DefaultLineEvery    = 1000
	DefaultLineInterval = 5 * time.Second
)

// LineProgress writes one plain line per step, for output that is not a
// terminal (a log file, a pipe, CI):
//
//	imported 1200/5000 (240/s, ETA 16s)
//
// A line is written when Every more messages have finished or Interval has
// passed since the last line, checked at each finished message, and once
// more at the end.
type LineProgress struct {
	// W receives the lines.
	W io.Writer
	// Every is the number of messages between two lines. Default
	// DefaultLineEvery (1000).
	Every int
	// Interval is the time between two lines. Default DefaultLineInterval
	// (5s).
	Interval time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Verb starts each line. Default "imported".
	Verb string

	mu       sync.Mutex // guards the fields below
	total    int
	started  time.Time
	lastLine time.Time
	lastDone int
}

// Start records the total and the start time.
func (p *LineProgress) Start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Every <= 0 {
		p.Every = DefaultLineEvery
	}
	if p.Interval <= 0 {
		p.Interval = DefaultLineInterval
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Verb == "" {
		p.Verb = "imported"
	}
	p.total = total
	p.started = p.Now()
	p.lastLine = p.started
}

// Update writes a line when a step has passed.
func (p *LineProgress) Update(finished int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.Now()
	if finished-p.lastDone < p.Every && now.Sub(p.lastLine) < p.Interval {
		return
	}
	p.write(finished, now, true)
}

// Finish writes the last line, with the elapsed time in place of the ETA.
func (p *LineProgress) Finish(finished int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.write(finished, p.Now(), false)
}

func (p *LineProgress) write(finished int, now time.Time, withETA bool) {
	p.lastLine, p.lastDone = now, finished
	elapsed := now.Sub(p.started)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(finished) / elapsed.Seconds()
	}

	var tail string
	switch {
	case !withETA:
		tail = "in " + roundDuration(elapsed)
	case rate > 0:
		eta := time.Duration(float64(p.total-finished) / rate * float64(time.Second))
		tail = "ETA " + roundDuration(eta)
	default:
		tail = "ETA unknown"
	}
	fmt.Fprintf(p.W, "%s %d/%d (%.0f/s, %s)\n", p.Verb, finished, p.total, rate, tail)
}

// roundDuration formats d in whole seconds, or in milliseconds below one
// second.
func roundDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// BarProgress draws a progress bar with the count, the rate and the
// estimated time left, for a terminal.
type BarProgress struct {
	// W is the terminal.
	W io.Writer
	// Description is written before the bar. Default "importing".
	Description string
	// Unit names one item in the rate. Default "msg".
	Unit string

	bar *progressbar.ProgressBar
}

// Start draws the empty bar.
func (p *BarProgress) Start(total int) {
	if p.Description == "" {
		p.Description = "importing"
	}
	if p.Unit == "" {
		p.Unit = "msg"
	}
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.W),
		progressbar.OptionSetDescription(p.Description),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(p.Unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.W) }),
	)
}

// Update moves the bar.
func (p *BarProgress) Update(finished int) { _ = p.bar.Set(finished) }

// Finish draws the bar at its last position and ends its line. An import
// that stopped early leaves the bar short of full.
func (p *BarProgress) Finish(finished int) {
	_ = p.bar.Set(finished)
	if !p.bar.IsFinished() {
		_ = p.bar.Exit() // ends the line through OptionOnCompletion
	}
}
