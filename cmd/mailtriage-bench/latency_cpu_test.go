package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseProcessTicks(t *testing.T) {
	// The command name contains a space and a closing bracket.
	stat := "4242 (mail triage) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1234 567 0 0 20 0 9 0 6000 2000000 5000 18446744073709551615"
	got, err := parseProcessTicks(stat)
	if err != nil || got != 1234+567 {
		t.Errorf("parseProcessTicks = %d, %v; expected %d", got, err, 1234+567)
	}
	for _, bad := range []string{"4242 no bracket", "4242 (short) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 abc 1 2"} {
		if _, err := parseProcessTicks(bad); err == nil {
			t.Errorf("parseProcessTicks(%q) returned no error", bad)
		}
	}
}

func TestParseMachineTicks(t *testing.T) {
	stat := "cpu  100 20 30 4000 500 6 7 8 0 0\ncpu0 50 10 15 2000 250 3 3 4 0 0\n"
	// user, nice, system, irq, softirq and steal; idle and iowait left out.
	got, err := parseMachineTicks(stat)
	if exp := uint64(100 + 20 + 30 + 6 + 7 + 8); err != nil || got != exp {
		t.Errorf("parseMachineTicks = %d, %v; expected %d", got, err, exp)
	}
	if _, err := parseMachineTicks("intr 1 2 3\n"); err == nil {
		t.Error("parseMachineTicks without a cpu line returned no error")
	}
}

func TestCPUUsageDifferences(t *testing.T) {
	before := cpuSample{machine: 1000, processes: map[string]map[int]uint64{
		"process":      {10: 500},
		cpuSinkBackend: {20: 100, 21: 50},
	}}
	after := cpuSample{machine: 3000, processes: map[string]map[int]uint64{
		"process": {10: 800},
		// Backend 21 ended in the window and 22 started in it.
		cpuSinkBackend: {20: 160, 22: 40},
		cpuKafka:       {},
	}}
	u := cpuUsage(before, after, 10)
	for name, exp := range map[string]float64{"process": 3, cpuSinkBackend: 1} {
		if got := u.ProcessSeconds[name]; got != exp {
			t.Errorf("%s used %g CPU s, expected %g", name, got, exp)
		}
	}
	if _, ok := u.ProcessSeconds[cpuKafka]; ok {
		t.Errorf("a group without processes has CPU seconds: %v", u.ProcessSeconds)
	}
	if u.MachineBusySeconds != 20 || u.WindowSeconds != 10 {
		t.Errorf("machine %g CPU s in %g s, expected 20 in 10", u.MachineBusySeconds, u.WindowSeconds)
	}
}

func TestRateBetween(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var times []time.Time
	// 11 events 100 ms apart, out of order: 10 intervals in 1 s.
	for _, i := range []int{5, 0, 10, 1, 2, 3, 4, 6, 7, 8, 9} {
		times = append(times, start.Add(time.Duration(i)*100*time.Millisecond))
	}
	if got := rateBetween(times); got != 10 {
		t.Errorf("rateBetween = %g, expected 10", got)
	}
	if got := rateBetween(times[:1]); got != 0 {
		t.Errorf("rateBetween of one event = %g, expected 0", got)
	}
}

func TestWithApplicationName(t *testing.T) {
	got, err := withApplicationName("postgres://u@127.0.0.1:5432/db?sslmode=disable&search_path=s", "bench-x-sink")
	if err != nil {
		t.Fatal(err)
	}
	for _, exp := range []string{"application_name=bench-x-sink", "sslmode=disable", "search_path=s", "postgres://u@127.0.0.1:5432/db?"} {
		if !strings.Contains(got, exp) {
			t.Errorf("withApplicationName = %q, lacks %q", got, exp)
		}
	}
}
