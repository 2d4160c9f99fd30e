package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"mailtriage/internal/mime"
	"mailtriage/internal/state"
	"mailtriage/processors"
	"mailtriage/schemas"
)

func init() {
	register("classify", "Print one message's decision as JSON, without Kafka", runClassify)
}

// classifyResult is the JSON that the classify command prints.
type classifyResult struct {
	Queue         string           `json:"queue"`
	Priority      string           `json:"priority"`
	Tags          []string         `json:"tags"`
	TicketRef     string           `json:"ticketRef"`
	SkipAutoReply bool             `json:"skipAutoReply"`
	Reason        schemas.Reason   `json:"reason"`
	PII           map[string]int32 `json:"pii"`
	Duplicate     bool             `json:"duplicate"`
}

// runClassify parses one raw message, runs it through the default chain
// with an in-memory state store and prints the decision.
func runClassify(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("classify", flag.ContinueOnError)
	rules := flags.String("rules", processors.DefaultRulesFile, "classification ruleset (YAML)")
	tenant := flags.String("tenant", "default", "tenant whose rules apply")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: mailtriage classify [--rules FILE] [--tenant NAME] FILE|-")
		fmt.Fprintln(flags.Output(), "Reads one raw RFC 5322 message (\"-\" for standard input), runs dedupe, redact,")
		fmt.Fprintln(flags.Output(), "classify and route on it without Kafka, and prints the decision as JSON.")
		flags.PrintDefaults()
	}
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return fmt.Errorf("expected exactly one FILE argument (or - for standard input), got %d", flags.NArg())
	}

	chain, err := processors.DefaultChain(processors.ChainConfig{RulesFile: *rules})
	if err != nil {
		return explainMissingRules(err)
	}

	raw, source, err := readMessageInput(flags.Arg(0))
	if err != nil {
		return err
	}
	parsed, err := mime.Parse(raw, mime.Options{Tenant: *tenant, Source: source})
	if err != nil {
		return fmt.Errorf("parsing %s: %w", flags.Arg(0), err)
	}

	m := &processors.Message{Email: parsed.Email, State: state.NewMemory()}
	if _, err := chain.Run(ctx, m); err != nil {
		return err
	}

	result := classifyResult{
		Queue:         m.Decision.Queue,
		Priority:      m.Decision.Priority,
		Tags:          m.Decision.Tags,
		TicketRef:     m.Decision.TicketRef,
		SkipAutoReply: m.Decision.SkipAutoReply,
		Reason:        m.Decision.Reason,
		PII:           m.Email.PII,
		Duplicate:     m.Duplicate,
	}
	if result.Tags == nil {
		result.Tags = []string{}
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	return out.Encode(result)
}
