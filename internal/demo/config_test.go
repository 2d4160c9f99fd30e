package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidatePartitions(t *testing.T) {
	tests := []struct {
		n     int64
		valid bool
	}{
		{1, true},
		{3, true},
		{1000, true},
		{0, false},
		{-1, false},
		{1001, false},
		{4294967297, false}, // 1 after a cast to int32
	}
	for _, tt := range tests {
		err := ValidatePartitions(tt.n)
		if tt.valid != (err == nil) {
			t.Errorf("ValidatePartitions(%d) = %v, want valid %v", tt.n, err, tt.valid)
		}
		if err != nil && !strings.Contains(err.Error(), "from 1 to 1000") {
			t.Errorf("ValidatePartitions(%d) error %q does not give the range", tt.n, err)
		}
	}
}

func TestValidateTenant(t *testing.T) {
	tests := []struct {
		tenant string
		want   string // substring of the error; empty when valid
	}{
		{"default", ""},
		{"acme-eu_1.prod", ""},
		{"ÅngströmAB", ""},
		{"", `pass a name`},
		{"acme/eu", `remove the "/"`},
		{"/", `remove the "/"`},
		{"acme eu", "whitespace"},
		{"acme\teu", "whitespace"},
		{"acme\n", "whitespace"},
		{"acme\u00a0eu", "whitespace"},
		{"acme\x00", "control"},
	}
	for _, tt := range tests {
		err := ValidateTenant(tt.tenant)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidateTenant(%q) = %v, want nil", tt.tenant, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ValidateTenant(%q) = %v, want an error containing %q", tt.tenant, err, tt.want)
		}
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative partitions", Config{Partitions: -1}, "invalid partition count -1"},
		{"too many partitions", Config{Partitions: 1001}, "invalid partition count 1001"},
		{"tenant with slash", Config{Tenant: "a/b"}, `invalid tenant "a/b"`},
		{"tenant with space", Config{Tenant: "a b"}, `invalid tenant "a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Mail = []string{sampleMailbox}
			tt.cfg.RulesFile = sampleRules
			_, err := Run(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRunTimeoutNamesFlag(t *testing.T) {
	_, err := Run(context.Background(), Config{Mail: []string{sampleMailbox}, RulesFile: sampleRules, Timeout: time.Nanosecond})
	if err == nil {
		t.Fatal("Run with a 1ns timeout succeeded, want a timeout error")
	}
	for _, want := range []string{"creating the topics", "before the --timeout of 1ns", "raise --timeout or lower --partitions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestRunNoFilesFound(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"README.md", "LICENSE", ".hidden.eml"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("From: a@example.com\n\nhi\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	_, err := Run(context.Background(), Config{Mail: []string{dir}, RulesFile: sampleRules, Timeout: 30 * time.Second})

	if err == nil || !strings.Contains(err.Error(), "no files found under "+dir) {
		t.Errorf("Run over a folder with only skipped files = %v, want \"no files found under %s\"", err, dir)
	}
}
