package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"mailtriage/processors"
)

// modelFlags are the flags of `mailtriage process` and `mailtriage demo`
// that add the trained model to the classify step.
type modelFlags struct {
	file      string
	threshold float64
	queueMap  string
}

func (m *modelFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&m.file, "model", "", "model `file` from \"mailtriage model train\", consulted for messages that no rule matches; empty routes them to the default queue")
	fs.Float64Var(&m.threshold, "model-threshold", processors.DefaultModelThreshold, "minimum `probability` of the model's top label, from 0 to 1, for its queue to apply; below it the default queue applies")
	fs.StringVar(&m.queueMap, "model-queue-map", "", "YAML `file` of \"label: queue\" lines; a label without a line goes to the queue named like the label")
}

// validate checks the model flags; explicit holds the names of the flags
// set on the command line.
func (m *modelFlags) validate(explicit map[string]bool) error {
	if m.file == "" && (explicit["model-threshold"] || explicit["model-queue-map"]) {
		return errors.New("--model-threshold and --model-queue-map apply only with --model: add --model FILE")
	}
	if !(m.threshold >= 0 && m.threshold <= 1) {
		return fmt.Errorf("invalid --model-threshold %v: use a probability from 0 to 1, such as %v", m.threshold, processors.DefaultModelThreshold)
	}
	return nil
}

// load returns the model that the flags name and logs its version to log
// when log is not nil. Without --model it returns a nil interface, so that
// Classify skips the model.
func (m *modelFlags) load(log *slog.Logger) (processors.Model, error) {
	if m.file == "" {
		return nil, nil
	}
	model, err := processors.LoadModelClassifier(m.file, m.threshold, m.queueMap)
	if err != nil {
		return nil, fmt.Errorf("--model: %w", err)
	}
	if log != nil {
		log.Info("model loaded", "model", m.file, "model_version", model.Version(), "threshold", model.Threshold())
	}
	return model, nil
}
