package runner

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// startGlobal restores the thread index and starts following its topic in
// the background. The returned function stops the follower and waits for
// it. Run calls it after initializing the transactional producer, which
// aborts an open transaction of this instance's previous run, and before
// the first poll, so no message is processed against a partial index.
//
// NOTE: records of other instances' transactions that are still open when
// the restore reads the topic arrive later through the follower. A reply
// processed before then may open a new ticket; processors.Thread describes
// that race.
func (r *Runner) startGlobal(ctx context.Context) (stop func(), err error) {
	began := time.Now()
	restoreCtx, cancel := context.WithTimeout(ctx, r.cfg.RestoreTimeout)
	err = r.global.Restore(restoreCtx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("restoring the thread index from %s: %w", r.cfg.GlobalTopic, err)
	}
	r.log.Info("thread index restored", "topic", r.cfg.GlobalTopic, "keys", r.global.Len(), "duration", time.Since(began))

	followCtx, stopFollow := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.global.Follow(followCtx); err != nil {
			r.log.Error("following the thread index failed", "topic", r.cfg.GlobalTopic, "error", err)
			r.fail(fmt.Errorf("following the thread index %s: %w", r.cfg.GlobalTopic, err))
		}
	}()
	return func() {
		stopFollow()
		wg.Wait()
	}, nil
}
