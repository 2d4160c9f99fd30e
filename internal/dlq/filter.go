package dlq

import (
	"strings"
	"time"
)

// Filter selects dead letters. Zero fields select everything.
type Filter struct {
	// Tenant selects dead letters of this tenant exactly. Dead letters
	// without a tenant never match a non-empty Tenant.
	Tenant string
	// Stage selects dead letters of this stage exactly, such as "classify"
	// or "sink-postgres".
	Stage string
	// ErrorContains selects dead letters whose error contains this text,
	// compared without regard to letter case.
	ErrorContains string
	// Since selects dead letters written at or after this time (the record
	// timestamp).
	Since time.Time
	// Until selects dead letters written before this time.
	Until time.Time
}

// Match reports whether e passes every set field of f.
func (f Filter) Match(e *Entry) bool {
	switch {
	case f.Tenant != "" && e.Tenant != f.Tenant:
		return false
	case f.Stage != "" && e.Stage != f.Stage:
		return false
	case f.ErrorContains != "" && !strings.Contains(strings.ToLower(e.Error), strings.ToLower(f.ErrorContains)):
		return false
	case !f.Since.IsZero() && e.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !e.Time.Before(f.Until):
		return false
	}
	return true
}
