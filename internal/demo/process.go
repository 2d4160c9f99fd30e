package demo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors"
	"mailtriage/processors/runner"
	"mailtriage/topics"
)

// processorGroup is the default consumer group of the demo's processor.
// Its transactional ID is the group with processorTxnSuffix appended.
const (
	processorGroup     = "mailtriage-processor"
	processorTxnSuffix = "-demo"
)

// startRunner starts the exactly-once processor in the background and
// returns the function that stops it and waits for it to finish.
func startRunner(ctx context.Context, brokers []string, cfg Config) (func(), error) {
	runCtx, cancel := context.WithCancel(ctx)
	chain, err := processors.DefaultChain(processors.ChainConfig{
		RulesFile: cfg.RulesFile, Context: runCtx, Logger: cfg.Logger, Model: cfg.Model,
		Thread: processors.ThreadConfig{AddressSalt: cfg.ThreadSalt},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	r, err := runner.New(runner.Config{
		Brokers:         brokers,
		Group:           cfg.ProcessorGroup,
		TransactionalID: cfg.ProcessorGroup + processorTxnSuffix,
		InputTopic:      topics.Inbound,
		Chain:           chain,
		Outputs:         processors.Outputs,
		Logger:          cfg.Logger,
		ClientOpts:      []kgo.Opt{kgo.ProducerBatchMaxBytesFn(topics.MaxMessageBytes)},
		Now:             time.Now,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("starting the processor: %w", err)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(runCtx); err != nil && runCtx.Err() == nil {
			cfg.Logger.Error("processor stopped", "error", err)
		}
	}()

	return func() {
		cancel()
		wg.Wait()
		r.Close()
	}, nil
}
