package metrics

import (
	"context"
	"log/slog"
)

// StartRole creates the registry of a role and serves it on addr until ctx
// ends or stop is called. An empty addr turns metrics off: the registry is
// then nil, so the New functions return nil metric sets that record
// nothing, and stop does nothing.
func StartRole(ctx context.Context, addr string, log *slog.Logger) (reg *Registry, stop func(), err error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	reg = NewRegistry()
	stop, err = Start(ctx, addr, reg, log)
	if err != nil {
		return nil, nil, err
	}
	return reg, stop, nil
}
