package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"mailtriage/connectors/clickhouse"
)

func init() {
	register("kpi", "Print routing, response, latency, duplicate and dead-letter KPIs from ClickHouse", runKPI)
}

const kpiUsage = "usage: mailtriage kpi [--clickhouse host:port] [--database name] [--table name] [--tenant T] [--since T] [--until T] [--json]"

// envClickHouseAddr is the default of --clickhouse. The local stack's
// .stack/env sets it to its ClickHouse native protocol address.
const envClickHouseAddr = "MAILTRIAGE_CLICKHOUSE_ADDR"

// envClickHouseDatabase is the default of the --database flag of kpi and
// sink clickhouse when set; .stack/env sets it for the local stack.
const envClickHouseDatabase = "MAILTRIAGE_CLICKHOUSE_DATABASE"

// clickHouseDatabaseDefault returns $MAILTRIAGE_CLICKHOUSE_DATABASE, or
// the sink's default database when the variable is empty.
func clickHouseDatabaseDefault() string {
	if db := os.Getenv(envClickHouseDatabase); db != "" {
		return db
	}
	return clickhouse.DefaultDatabase
}

// ClickHouse error codes of a query on a table or a database that does
// not exist.
const (
	clickHouseUnknownTable    = 60 // UNKNOWN_TABLE
	clickHouseUnknownDatabase = 81 // UNKNOWN_DATABASE
)

// runKPI runs "mailtriage kpi", printing to standard output.
func runKPI(ctx context.Context, args []string) error {
	return kpiCommand(ctx, args, os.Stdout)
}

// kpiFlags are the parsed flags of "mailtriage kpi".
type kpiFlags struct {
	addr, user, database, table string
	filter                      clickhouse.Filter
	json                        bool
}

// parseKPIFlags parses and checks the flags of "mailtriage kpi", with
// --since and --until relative to now.
func parseKPIFlags(args []string, now time.Time) (kpiFlags, error) {
	var f kpiFlags
	fs := flag.NewFlagSet("kpi", flag.ContinueOnError)
	fs.StringVar(&f.addr, "clickhouse", os.Getenv(envClickHouseAddr), "host:port of the ClickHouse native protocol (TCP, usually port 9000; not the HTTP port); the default comes from $"+envClickHouseAddr)
	fs.StringVar(&f.user, "clickhouse-user", clickhouse.DefaultUsername, "ClickHouse user; its password is read from $"+envClickHousePassword)
	fs.StringVar(&f.database, "database", clickHouseDatabaseDefault(), "ClickHouse database that mailtriage sink clickhouse writes; the default comes from $"+envClickHouseDatabase+" when set")
	fs.StringVar(&f.table, "table", clickhouse.DefaultTable, "name of the decisions table; the other tables have their default names")
	fs.StringVar(&f.filter.Tenant, "tenant", "", "report only this `tenant`")
	since := fs.String("since", "", "report messages received at or after this `time`: "+timeForms)
	until := fs.String("until", "", "report messages received before this `time`, in the forms of --since; a date includes its whole day")
	fs.BoolVar(&f.json, "json", false, "print the KPIs as one JSON object instead of tables")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), kpiUsage)
	}
	if f.addr == "" {
		return f, errors.New("missing --clickhouse: pass the host:port of the ClickHouse native protocol, such as 127.0.0.1:9000, or set " + envClickHouseAddr)
	}

	var err error
	f.filter.From, f.filter.To, err = parseTimeRange(*since, *until, now)
	return f, err
}

// kpiCommand runs "mailtriage kpi" with args, printing to out.
func kpiCommand(ctx context.Context, args []string, out io.Writer) error {
	f, err := parseKPIFlags(args, time.Now())
	if err != nil {
		return err
	}

	conn, err := ch.Open(&ch.Options{
		Protocol:    ch.Native,
		Addr:        []string{f.addr},
		Auth:        ch.Auth{Username: f.user, Password: os.Getenv(envClickHousePassword)},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 60 * time.Second,
		ClientInfo:  ch.ClientInfo{Products: []struct{ Name, Version string }{{Name: "mailtriage-kpi"}}},
	})
	if err != nil {
		return fmt.Errorf("connecting to ClickHouse at %s: %w", f.addr, err)
	}
	defer conn.Close()

	queries, err := clickhouse.NewKPIQueries(conn, f.database, clickhouse.Tables{Decisions: f.table})
	if err != nil {
		return err
	}
	report, err := queries.Report(ctx, f.filter)
	if err != nil {
		return kpiReadError(f, err)
	}

	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return printKPITables(out, &report)
}

// kpiReadError explains a failed KPI query. A missing table or database
// most often means that no sink has written to this database yet.
func kpiReadError(f kpiFlags, err error) error {
	var ex *ch.Exception
	if errors.As(err, &ex) && (ex.Code == clickHouseUnknownTable || ex.Code == clickHouseUnknownDatabase) {
		return fmt.Errorf("reading the KPIs from database %s of ClickHouse at %s: %w; run mailtriage sink clickhouse (or mailtriage demo --clickhouse ADDR) against this database first, or name the database that holds the tables with --database", f.database, f.addr, err)
	}
	return fmt.Errorf("reading the KPIs from ClickHouse at %s: %w", f.addr, err)
}

// printKPITables prints report as two aligned tables. A rate or quantile
// with nothing to measure prints as "-".
func printKPITables(out io.Writer, report *clickhouse.KPIReport) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KPIs per day (UTC), tenant and queue, over non-duplicate decisions:")
	fmt.Fprintln(w, "DAY\tTENANT\tQUEUE\tDECISIONS\tCOVERAGE\tTICKETS\tMISROUTED\tMISROUTE RATE\tRESPONDED\tFIRST RESPONSE P50\tP95\tDECISION LATENCY P50\tP95")
	for _, k := range report.Queues {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n",
			k.Day, orDash(k.Tenant), orDash(k.Queue), k.Decisions, percent(&k.RoutingCoverage), k.Tickets, k.Misrouted,
			percent(k.MisrouteRate), k.Responded, seconds(k.FirstResponseP50Seconds), seconds(k.FirstResponseP95Seconds),
			milliseconds(k.DecisionLatencyP50Ms), milliseconds(k.DecisionLatencyP95Ms))
	}
	if len(report.Queues) == 0 {
		fmt.Fprintln(w, "(no decisions)")
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Duplicates and dead letters per day (UTC) and tenant:")
	fmt.Fprintln(w, "DAY\tTENANT\tDECISION EVENTS\tDUPLICATES\tDUPLICATE RATE\tDEAD LETTERS\tDLQ RATE\tRETRIES\tRETRY RATE")
	for _, k := range report.Tenants {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%d\t%s\t%d\t%s\n",
			k.Day, orDash(k.Tenant), k.DecisionEvents, k.Duplicates, percent(k.DuplicateRate),
			k.DeadLetters, percent(k.DLQRate), k.DeadLetterRetries, percent(k.RetryRate))
	}
	if len(report.Tenants) == 0 {
		fmt.Fprintln(w, "(no decisions or dead letters)")
	}
	return w.Flush()
}

func percent(x *float64) string {
	if x == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", *x*100)
}

func seconds(x *float64) string {
	if x == nil {
		return "-"
	}
	return time.Duration(*x * float64(time.Second)).Round(time.Second).String()
}

func milliseconds(x float64) string {
	return time.Duration(x * float64(time.Millisecond)).Round(time.Millisecond).String()
}

// orDash returns s, or "-" for an empty tenant or queue, which
// duplicates and dead letters of an unknown tenant have.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
