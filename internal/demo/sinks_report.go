package demo

import (
	"fmt"
	"io"
)

// SinkTotals counts the rows and posts that the sinks stored for one demo
// run. A sink that did not run has a nil entry.
type SinkTotals struct {
	Postgres   *PostgresTotals   `json:"postgres,omitempty"`
	ClickHouse *ClickHouseTotals `json:"clickhouse,omitempty"`
	Slack      *SlackTotals      `json:"slack,omitempty"`
}

// PostgresTotals counts the run's rows in PostgreSQL.
type PostgresTotals struct {
	Tickets  int `json:"tickets"`  // tickets holding the run's messages
	Messages int `json:"messages"` // ticket messages of the run's ticket commands
}

// ClickHouseTotals counts the run's rows in ClickHouse.
type ClickHouseTotals struct {
	Rows int `json:"rows"` // decisions, counted with FINAL so that a copy counts once
}

// SlackTotals counts the run's Slack deliveries.
type SlackTotals struct {
	Posts int `json:"posts"` // notifications the ledger records as delivered
}

// write prints one line per sink that ran.
func (t *SinkTotals) write(w io.Writer) {
	if t == nil {
		return
	}
	fmt.Fprintln(w, "sinks")
	if t.Postgres != nil {
		fmt.Fprintf(w, "  %-18s tickets %d, messages %d\n", "postgres", t.Postgres.Tickets, t.Postgres.Messages)
	}
	if t.ClickHouse != nil {
		fmt.Fprintf(w, "  %-18s rows %d\n", "clickhouse", t.ClickHouse.Rows)
	}
	if t.Slack != nil {
		fmt.Fprintf(w, "  %-18s posts %d\n", "slack", t.Slack.Posts)
	}
}
