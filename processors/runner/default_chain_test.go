package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// TestRunnerDefaultChainCrash runs the production chain and outputs over
// eleven messages and one duplicate, crashes the first runner in its
// second batch and checks that the restarted one completes the work with
// every output exactly once.
func TestRunnerDefaultChainCrash(t *testing.T) {
	const rulesFile = "../../config/rules.yaml"
	if _, err := os.Stat(rulesFile); err != nil {
		t.Skipf("ruleset %s not found: %v", rulesFile, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)

	var in []inbound
	for i := range 11 {
		e := testEmail("acme", fmt.Sprintf("real%02d", i), fmt.Sprintf("Invoice question %d", i))
		e.From = &schemas.Address{Name: "Customer", Address: fmt.Sprintf("customer%d@example.test", i)}
		e.To = []schemas.Address{{Address: "support@example.test"}}
		in = append(in, emailRecord(t, e, -1))
	}
	ends := produceInbound(ctx, t, brokers, append(in, in[3])...)

	chain, err := processors.DefaultChain(processors.ChainConfig{RulesFile: rulesFile})
	if err != nil {
		t.Fatalf("DefaultChain: %v", err)
	}
	cfg := testConfig(brokers)
	cfg.Chain = chain
	cfg.Outputs = processors.Outputs
	cfg.MaxPollRecords = 3

	first := newRunner(t, cfg)
	seen := 0
	first.afterRecord = func(processors.Position) error {
		if seen++; seen == 5 {
			return errCrash
		}
		return nil
	}
	rr := startRunner(ctx, t, first)
	if err := <-rr.done; !errors.Is(err, errCrash) {
		t.Fatalf("first Run returned %v, expected the simulated crash", err)
	}
	rr.done <- errCrash
	first.Close()

	second := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, second, ends)
	if err := second.stop(); err != nil {
		t.Fatalf("second Run returned %v", err)
	}

	tickets := decodeTickets(t, readTopic(ctx, t, brokers, topics.Tickets, true))
	ticketIDs := countIDs(tickets, func(c schemas.TicketCommand) string { return c.EventID })
	if len(tickets) != 11 || len(ticketIDs) != 11 {
		t.Errorf("read %d ticket commands with %d distinct event IDs, expected 11 and 11", len(tickets), len(ticketIDs))
	}
	if n := len(readTopic(ctx, t, brokers, topics.Notifications, true)); n != 11 {
		t.Errorf("read %d notifications, expected 11", n)
	}

	decisions := decodeDecisions(t, readTopic(ctx, t, brokers, topics.Analytics, true))
	decisionIDs := countIDs(decisions, func(d schemas.DecisionEvent) string { return d.EventID })
	duplicates := 0
	for _, d := range decisions {
		if d.Duplicate {
			duplicates++
		}
	}
	if len(decisions) != 12 || len(decisionIDs) != 12 || duplicates != 1 {
		t.Errorf("read %d decisions with %d distinct IDs and %d duplicates, expected 12, 12 and 1",
			len(decisions), len(decisionIDs), duplicates)
	}
	if dlq := readTopic(ctx, t, brokers, topics.DLQ, true); len(dlq) != 0 {
		t.Errorf("DLQ holds %d records, expected none", len(dlq))
	}
}
