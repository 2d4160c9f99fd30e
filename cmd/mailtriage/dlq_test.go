package main

import (
	"testing"
	"time"
)

func TestParseTimeFlag(t *testing.T) {
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		value string
		want  time.Time
	}{
		{"", time.Time{}},
		{"2026-01-04T08:30:00Z", time.Date(2026, 1, 4, 8, 30, 0, 0, time.UTC)},
		{"24h", now.Add(-24 * time.Hour)},
	}
	for _, c := range cases {
		got, err := parseTimeFlag("since", c.value, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseTimeFlag(%q) = %v, %v; expected %v", c.value, got, err, c.want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "2026-01-04"} {
		if _, err := parseTimeFlag("since", bad, now); err == nil {
			t.Errorf("parseTimeFlag(%q) succeeded, expected an error", bad)
		}
	}
}

func TestFilterFlagsRejectEmptyRange(t *testing.T) {
	f := filterFlags{since: "2026-01-05T00:00:00Z", until: "2026-01-04T00:00:00Z"}
	if _, err := f.resolve(time.Now()); err == nil {
		t.Error("--until before --since was accepted, expected an error")
	}
}
