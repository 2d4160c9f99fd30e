package main

import (
	"flag"
	"os"

	"mailtriage/connectors/clickhouse"
	"mailtriage/internal/demo"
)

// demoSinkFlags are the flags of "mailtriage demo" that run sinks beside
// the processor.
type demoSinkFlags struct {
	postgres           *string
	clickhouse         *string
	clickhouseDatabase *string
	clickhouseTable    *string
	clickhouseUser     *string
	slackWebhook       *string
	runID              *string
}

// addDemoSinkFlags registers the sink flags of "mailtriage demo" on fs.
func addDemoSinkFlags(fs *flag.FlagSet) demoSinkFlags {
	return demoSinkFlags{
		postgres: fs.String("postgres", "",
			"PostgreSQL connection `DSN`; runs the PostgreSQL ticket sink, with its tables in the first schema of the search_path. Empty runs none"),
		clickhouse: fs.String("clickhouse", "",
			"`host:port` of the ClickHouse native protocol (not HTTP); runs the ClickHouse analytics sink. Empty runs none"),
		clickhouseDatabase: fs.String("clickhouse-database", clickhouse.DefaultDatabase, "ClickHouse `database` of the decisions table; created if missing"),
		clickhouseTable:    fs.String("clickhouse-table", clickhouse.DefaultTable, "`name` of the ClickHouse decisions table; created if missing"),
		clickhouseUser:     fs.String("clickhouse-user", clickhouse.DefaultUsername, "ClickHouse `user`; its password is read from $"+envClickHousePassword),
		slackWebhook: fs.String("slack-webhook", "",
			"Slack incoming-webhook `URL` for the tenant's notifications; runs the Slack sink, with its delivery ledger in PostgreSQL when --postgres is set and in memory otherwise. Empty runs none"),
		runID: fs.String("run-id", "",
			"`ID` in the sinks' consumer group names, mailtriage-demo-ID-postgres and so on; empty picks 8 random hex digits"),
	}
}

// config returns the sink configuration that the flags set.
func (f demoSinkFlags) config() demo.SinkConfig {
	return demo.SinkConfig{
		PostgresDSN:        *f.postgres,
		ClickHouseAddr:     *f.clickhouse,
		ClickHouseDatabase: *f.clickhouseDatabase,
		ClickHouseTable:    *f.clickhouseTable,
		ClickHouseUser:     *f.clickhouseUser,
		ClickHousePassword: os.Getenv(envClickHousePassword),
		SlackWebhook:       *f.slackWebhook,
		RunID:              *f.runID,
	}
}
