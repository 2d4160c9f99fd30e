package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/state"
)

// partitionStores holds the state store of every assigned input
// partition. The group callbacks change it while Run reads it.
type partitionStores struct {
	mu     sync.Mutex // guards byPart
	byPart map[int32]*state.Changelog
}

func newPartitionStores() *partitionStores {
	return &partitionStores{byPart: make(map[int32]*state.Changelog)}
}

func (s *partitionStores) get(partition int32) *state.Changelog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byPart[partition]
}

func (s *partitionStores) set(partition int32, store *state.Changelog) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byPart[partition] = store
}

func (s *partitionStores) drop(partitions []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range partitions {
		delete(s.byPart, p)
	}
}

// onAssigned restores the state of each newly assigned input partition
// from the changelog partition with the same number. franz-go calls it
// before fetching from those partitions starts, so no record of a
// partition is processed before its state is complete. A failed restore
// stops Run, because processing without the state would let duplicates
// through.
//
// NOTE: the restore runs inside the rebalance. A changelog that takes
// longer to read than the group's rebalance timeout delays the rebalance
// of the other members by as much.
func (r *Runner) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	for _, partition := range assigned[r.cfg.InputTopic] {
		began := time.Now()
		restoreCtx, cancel := restoreContext(ctx, r.closing, r.cfg.RestoreTimeout)
		store, err := state.Restore(restoreCtx, r.restore, r.cfg.ChangelogTopic, partition)
		cancel()
		if err != nil && r.closing.Err() != nil {
			r.log.Info("partition restore stopped by Close", "partition", partition)
			return
		}
		if err != nil {
			r.log.Error("restoring partition state failed", "partition", partition, "error", err)
			r.fail(fmt.Errorf("restoring the state of %s partition %d: %w", r.cfg.InputTopic, partition, err))
			return
		}
		r.stores.set(partition, store)
		r.log.Info("partition assigned, state restored",
			"partition", partition, "keys", store.Len(), "duration", time.Since(began))
	}
}

// restoreContext returns a context for one restore that ends after
// timeout, when ctx ends, or when closing ends, whichever comes first.
func restoreContext(ctx, closing context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	restoreCtx, cancel := context.WithTimeout(ctx, timeout)
	stop := context.AfterFunc(closing, cancel)
	return restoreCtx, func() {
		stop()
		cancel()
	}
}

// onRevoked drops the stores of revoked partitions. The transact session
// aborts the open transaction, if any, and the batch then discards its
// pending writes.
func (r *Runner) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if ps := revoked[r.cfg.InputTopic]; len(ps) > 0 {
		r.stores.drop(ps)
		r.log.Info("partitions revoked", "partitions", ps)
	}
}

// onLost drops the stores of partitions lost to a session timeout or a
// fenced member.
func (r *Runner) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	if ps := lost[r.cfg.InputTopic]; len(ps) > 0 {
		r.stores.drop(ps)
		r.log.Warn("partitions lost", "partitions", ps)
	}
}
