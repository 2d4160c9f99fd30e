package main

import (
	"fmt"
	"slices"
	"strings"

	"mailtriage/connectors/clickhouse"
	"mailtriage/connectors/crm"
	"mailtriage/connectors/postgres"
	"mailtriage/connectors/slack"
	"mailtriage/connectors/smtpsink"
	"mailtriage/connectors/teams"
	"mailtriage/connectors/ticketing"
	"mailtriage/internal/ingest"
	"mailtriage/processors"
	"mailtriage/processors/runner"
)

// dlqStages returns every stage that a dead letter can name, in the order
// of the data flow: ingress, the runner and its chain, then the sinks.
// The names come from the constants and processors that write the dead
// letters, so a renamed stage cannot leave --stage behind.
func dlqStages() []string {
	stages := []string{ingest.StageParse, ingest.StageIngress, runner.StageDecode}
	stages = append(stages, chainStages()...)
	stages = append(stages, runner.StageChain, runner.StageOutputs, runner.StageProduce)
	return append(stages,
		postgres.Stage, clickhouse.Stage, slack.Stage, smtpsink.Stage,
		teams.Stage, ticketing.Stage, crm.Stage)
}

// chainStages returns the names of the processors of the default chain,
// which the runner writes as the stage of a processor's error.
func chainStages() []string {
	// An empty ruleset is enough: the chain is built for its names and
	// never runs.
	chain, err := processors.DefaultChain(processors.ChainConfig{Rules: &processors.Ruleset{}})
	if err != nil {
		// DefaultChain fails only on invalid settings, and these are the
		// defaults. TestDLQStages checks that the chain's names are listed.
		return nil
	}
	names := make([]string, 0, len(chain))
	for _, p := range chain {
		names = append(names, p.Name())
	}
	return names
}

// checkDLQStage returns an error naming the allowed stages when stage is
// set and no dead letter can have it.
func checkDLQStage(stage string) error {
	if stage == "" {
		return nil
	}
	allowed := dlqStages()
	if slices.Contains(allowed, stage) {
		return nil
	}
	return fmt.Errorf("invalid --stage %q: use one of %s", stage, strings.Join(allowed, ", "))
}
