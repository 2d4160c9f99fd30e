package ingress

import (
	"errors"

	"mailtriage/internal/metrics"
)

// publishResult returns the result label of a publish that ended with err.
func publishResult(err error) string {
	switch {
	case err == nil:
		return metrics.IngressPublished
	case errors.Is(err, ErrUnavailable):
		return metrics.IngressUnavailable
	}
	return metrics.IngressFailed
}
