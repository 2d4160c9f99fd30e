package main

import (
	"context"
	"strings"
	"testing"
)

func TestPartitionsFlag(t *testing.T) {
	tests := []struct {
		value string
		want  int32 // 0 when the value is rejected
	}{
		{"1", 1},
		{"3", 3},
		{"1000", 1000},
		{"0", 0},
		{"-1", 0},
		{"1001", 0},
		{"4294967297", 0}, // 1 after a cast to int32
		{"99999999999999999999", 0},
		{"three", 0},
		{"", 0},
	}
	for _, tt := range tests {
		var p partitionsFlag
		err := p.Set(tt.value)
		if tt.want == 0 {
			if err == nil || !strings.Contains(err.Error(), "from 1 to 1000") {
				t.Errorf("Set(%q) = %v, want an error giving the range 1 to 1000", tt.value, err)
			}
			continue
		}
		if err != nil || int32(p) != tt.want {
			t.Errorf("Set(%q) = %v with value %d, want %d", tt.value, err, p, tt.want)
		}
	}
}

func TestDemoFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"zero partitions", []string{"--partitions", "0"}, `invalid value "0" for flag -partitions: use a whole number from 1 to 1000`},
		{"overflowing partitions", []string{"--partitions", "4294967297"}, "from 1 to 1000"},
		{"empty tenant", []string{"--tenant", ""}, `--tenant: invalid tenant ""`},
		{"tenant with slash", []string{"--tenant", "acme/eu"}, `--tenant: invalid tenant "acme/eu"`},
		{"tenant with space", []string{"--tenant", "acme eu"}, "whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runDemo(context.Background(), tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("demo %q = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}
