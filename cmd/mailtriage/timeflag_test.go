package main

import (
	"testing"
	"time"
)

func TestParseTimeFlag(t *testing.T) {
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		value  string
		want   time.Time
		isDate bool
		err    string
	}{
		{value: "", want: time.Time{}},
		{value: "2026-01-04", want: time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC), isDate: true},
		{value: "2026-01-04T08:30:00Z", want: time.Date(2026, 1, 4, 8, 30, 0, 0, time.UTC)},
		{value: "2026-01-04T08:30:00.5+02:00", want: time.Date(2026, 1, 4, 6, 30, 0, 500_000_000, time.UTC)},
		{value: "24h", want: now.Add(-24 * time.Hour)},
		{value: "90m", want: now.Add(-90 * time.Minute)},
		{value: "yesterday", err: `invalid --since "yesterday": use ` + timeForms},
		{value: "-1h", err: `invalid --since "-1h": use ` + timeForms},
		{value: "0s", err: `invalid --since "0s": use ` + timeForms},
		{value: "2026-02-30", err: `invalid --since "2026-02-30": use ` + timeForms},
		{value: "03/01/2026", err: `invalid --since "03/01/2026": use ` + timeForms},
		{value: "2026-01-04 08:30:00", err: `invalid --since "2026-01-04 08:30:00": use ` + timeForms},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			got, isDate, err := parseTimeFlag("since", c.value, now)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Errorf("error %v, expected %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v, expected %v", err, c.want)
			}
			if !got.Equal(c.want) {
				t.Errorf("time %v, expected %v", got, c.want)
			}
			if isDate != c.isDate {
				t.Errorf("isDate %v, expected %v", isDate, c.isDate)
			}
		})
	}
}

func TestParseTimeRange(t *testing.T) {
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		name, since, until string
		from, to           time.Time
		err                string
	}{
		{name: "open", from: time.Time{}, to: time.Time{}},
		{name: "one day", since: "2026-01-03", until: "2026-01-03", from: day(3), to: day(4)},
		{name: "date until includes its day", since: "48h", until: "2026-01-04", from: day(3).Add(12 * time.Hour), to: day(5)},
		{name: "time until is exclusive", since: "2026-01-03", until: "2026-01-04T00:00:00Z", from: day(3), to: day(4)},
		{name: "reversed", since: "2026-01-05", until: "2026-01-04",
			err: "invalid range: --until 2026-01-04 is not after --since 2026-01-05: swap them or widen the range"},
		{name: "empty", since: "2026-01-04T10:00:00Z", until: "2026-01-04T10:00:00Z",
			err: "invalid range: --until 2026-01-04T10:00:00Z is not after --since 2026-01-04T10:00:00Z: swap them or widen the range"},
		{name: "invalid until", until: "tomorrow", err: `invalid --until "tomorrow": use ` + timeForms},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			from, to, err := parseTimeRange(c.since, c.until, now)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Errorf("error %v, expected %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v, expected [%v, %v)", err, c.from, c.to)
			}
			if !from.Equal(c.from) || !to.Equal(c.to) {
				t.Errorf("range [%v, %v), expected [%v, %v)", from, to, c.from, c.to)
			}
		})
	}
}
