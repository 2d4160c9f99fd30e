package main

import (
	"fmt"
	"time"
)

// timeForms names the values that --since and --until take, for help and
// error text.
const timeForms = "a date (2026-01-05, UTC midnight), an RFC 3339 time (2026-01-05T10:00:00Z) or a duration before now (24h)"

// parseTimeFlag parses the value of the --since or --until flag called
// name: a date YYYY-MM-DD (midnight UTC), an RFC 3339 time, or a positive
// Go duration before now. An empty value gives the zero time. isDate
// reports the date form, because --until extends a date to its whole day.
func parseTimeFlag(name, value string, now time.Time) (t time.Time, isDate bool, err error) {
	if value == "" {
		return time.Time{}, false, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, value, time.UTC); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339, value); err == nil {
		return t, false, nil
	}
	if d, err := time.ParseDuration(value); err == nil && d > 0 {
		return now.Add(-d), false, nil
	}
	return time.Time{}, false, fmt.Errorf("invalid --%s %q: use %s", name, value, timeForms)
}

// parseTimeRange parses the values of --since and --until into the range
// [from, to). A date in until includes that whole day, so --since and
// --until with the same date select one day. A zero from or to leaves that
// end open. It rejects a range whose end is not after its start.
func parseTimeRange(since, until string, now time.Time) (from, to time.Time, err error) {
	if from, _, err = parseTimeFlag("since", since, now); err != nil {
		return time.Time{}, time.Time{}, err
	}
	to, untilIsDate, err := parseTimeFlag("until", until, now)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if untilIsDate {
		to = to.AddDate(0, 0, 1)
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return time.Time{}, time.Time{}, fmt.Errorf("invalid range: --until %s is not after --since %s: swap them or widen the range", until, since)
	}
	return from, to, nil
}
