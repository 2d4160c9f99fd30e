package main

import (
	"math"
	"slices"
	"time"

	"mailtriage/internal/benchreport"
)

// summarize computes the result of a run from what was sent, the ticket
// commands seen on the tickets topic and the rows seen.
func summarize(s latencySettings, load loadResult, rows map[int]rowSample, commands []commandSample) *benchreport.LatencyResult {
	var visible, written []time.Duration
	var writtenAt []time.Time
	for _, row := range rows {
		visible = append(visible, row.visible)
		written = append(written, row.written)
		writtenAt = append(writtenAt, row.writtenAt)
	}
	var processed []time.Duration
	var processedAt []time.Time
	for _, c := range commands {
		processed = append(processed, c.latency)
		processedAt = append(processedAt, c.seenAt)
	}
	res := &benchreport.LatencyResult{
		Rate:            s.rate,
		DurationSeconds: s.duration.Seconds(),
		Sent:            load.sent,
		Accepted:        load.accepted,
		Delivered:       len(rows),
		MaxSendLagMs:    ms(load.maxLag),
		PollMs:          ms(s.poll),
		Answered:        percentiles(load.answered),
		Processed:       percentiles(processed),
		ProcessedCount:  len(commands),
		ProcessedRate:   rateBetween(processedAt),
		WrittenRate:     rateBetween(writtenAt),
		Visible:         percentiles(visible),
		Written:         percentiles(written),
	}
	if load.elapsed > 0 {
		res.AchievedRate = float64(load.accepted) / load.elapsed.Seconds()
	}
	return res
}

// percentiles returns the nearest-rank percentiles of d.
func percentiles(d []time.Duration) benchreport.Percentiles {
	if len(d) == 0 {
		return benchreport.Percentiles{}
	}
	slices.Sort(d)
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(d)))) - 1
		return ms(d[max(i, 0)])
	}
	return benchreport.Percentiles{P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: ms(d[len(d)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rateBetween returns the events per second from the first of times to
// the last, or 0 for fewer than two events.
func rateBetween(times []time.Time) float64 {
	if len(times) < 2 {
		return 0
	}
	first, last := times[0], times[0]
	for _, t := range times[1:] {
		if t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	span := last.Sub(first).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(len(times)-1) / span
}
