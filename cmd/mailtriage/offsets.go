package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/postgres"
	"mailtriage/connectors/smtpsink"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/offsets"
)

func init() {
	register("offsets", "Show or reset the offsets of a consumer group, to replay a topic", runOffsets)
}

const offsetsUsage = `usage:
  mailtriage offsets show  --group G [--topic T] [--postgres DSN] [flags]
  mailtriage offsets reset --group G --topic T (--to-datetime RFC3339 | --to-earliest | --to-latest | --by-offset N | --to-offset P:O,...) [--dry-run] [--postgres DSN] [flags]
Run "mailtriage offsets ACTION -h" for the flags.`

// postgresProbeTimeout bounds the check of the PostgreSQL sink's offsets
// table for a group when --postgres is not given.
const postgresProbeTimeout = 5 * time.Second

// offsetsCommon contains the flags of both offsets actions.
type offsetsCommon struct {
	kafka    kafkaconfig.Config
	group    string
	topic    string
	postgres string
}

func (c *offsetsCommon) addFlags(fs *flag.FlagSet, topicUsage string) {
	c.kafka.AddFlags(fs)
	fs.StringVar(&c.group, "group", "", "consumer `group`, such as "+defaultProcessGroup+" or "+postgres.DefaultGroup)
	fs.StringVar(&c.topic, "topic", "", topicUsage)
	fs.StringVar(&c.postgres, "postgres", "",
		"PostgreSQL connection string (`DSN`) of the PostgreSQL or SMTP sink, whose groups keep their offsets in that database (default $"+envPostgresDSN+" for the groups "+postgres.DefaultGroup+" and "+smtpsink.DefaultGroup+", or for a group found in its consumer_offsets table)")
}

func runOffsets(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("missing action: " + offsetsUsage)
	}
	switch args[0] {
	case "show":
		return offsetsShow(ctx, args[1:], os.Stdout, os.Stderr)
	case "reset":
		return offsetsReset(ctx, args[1:], os.Stdout, os.Stderr)
	case "-h", "--help", "help":
		fmt.Println(offsetsUsage)
		return flag.ErrHelp
	}
	return fmt.Errorf("unknown action %q: %s", args[0], offsetsUsage)
}

// offsetsShow runs "mailtriage offsets show".
func offsetsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c offsetsCommon
	if err := c.kafka.FromEnv(); err != nil {
		return err
	}
	fs := flag.NewFlagSet("offsets show", flag.ContinueOnError)
	c.addFlags(fs, "show only this `topic`; default every topic with stored offsets")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := c.validate(fs, false); err != nil {
		return err
	}

	admin, closeAdmin, err := c.admin()
	if err != nil {
		return err
	}
	defer closeAdmin()
	store, closeStore, err := c.store(ctx, admin, stderr)
	if err != nil {
		return err
	}
	defer closeStore()

	rep, err := offsets.Show(ctx, admin, store, c.group, c.topic)
	if err != nil {
		return err
	}
	return offsets.WriteReport(stdout, rep)
}

// offsetsReset runs "mailtriage offsets reset".
func offsetsReset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c offsetsCommon
	if err := c.kafka.FromEnv(); err != nil {
		return err
	}
	fs := flag.NewFlagSet("offsets reset", flag.ContinueOnError)
	c.addFlags(fs, "`topic` whose offsets move (required)")
	var modes []offsets.Mode
	var modeFlags []string
	addMode := func(name string, parse func(string) (offsets.Mode, error)) func(string) error {
		return func(value string) error {
			m, err := parse(value)
			if err != nil {
				return err
			}
			modes = append(modes, m)
			modeFlags = append(modeFlags, "--"+name)
			return nil
		}
	}
	fs.Func("to-datetime", "move to the first record at or after this RFC 3339 `time`, such as 2026-01-05T00:00:00Z", addMode("to-datetime", func(v string) (offsets.Mode, error) {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return offsets.Mode{}, fmt.Errorf("use an RFC 3339 time such as 2026-01-05T00:00:00Z")
		}
		return offsets.ToDatetime(t), nil
	}))
	fs.BoolFunc("to-earliest", "move to the log start offset", addMode("to-earliest", func(string) (offsets.Mode, error) {
		return offsets.ToEarliest(), nil
	}))
	fs.BoolFunc("to-latest", "move to the log end offset, skipping every unread record", addMode("to-latest", func(string) (offsets.Mode, error) {
		return offsets.ToLatest(), nil
	}))
	fs.Func("by-offset", "move every partition by `N` records, negative to read again, within the log", addMode("by-offset", func(v string) (offsets.Mode, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n == 0 {
			return offsets.Mode{}, fmt.Errorf("use a non-zero whole number such as -100")
		}
		return offsets.ByOffset(n), nil
	}))
	fs.Func("to-offset", "move the listed partitions to these `PARTITION:OFFSET` pairs, such as 0:120,1:98", addMode("to-offset", func(v string) (offsets.Mode, error) {
		m, err := offsets.ParseOffsetList(v)
		if err != nil {
			return offsets.Mode{}, err
		}
		return offsets.ToOffsets(m), nil
	}))
	dryRun := fs.Bool("dry-run", false, "print the new offsets and change nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := c.validate(fs, true); err != nil {
		return err
	}
	if len(modes) != 1 {
		return fmt.Errorf("give exactly one of --to-datetime, --to-earliest, --to-latest, --by-offset and --to-offset; got %d %v", len(modes), modeFlags)
	}

	admin, closeAdmin, err := c.admin()
	if err != nil {
		return err
	}
	defer closeAdmin()
	store, closeStore, err := c.store(ctx, admin, stderr)
	if err != nil {
		return err
	}
	defer closeStore()

	group, err := offsets.DescribeGroup(ctx, admin, c.group)
	if err != nil {
		return err
	}
	stopped := group.CheckStopped()
	if stopped != nil && !*dryRun {
		return stopped
	}
	plan, err := offsets.PlanReset(ctx, admin, store, c.group, c.topic, modes[0])
	if err != nil {
		return err
	}
	if err := offsets.WritePlan(stdout, plan); err != nil {
		return err
	}
	if *dryRun {
		fmt.Fprintln(stdout, "dry run: nothing changed")
		if stopped != nil {
			fmt.Fprintf(stdout, "note: %v\n", stopped)
		}
		return nil
	}

	if err := offsets.Apply(ctx, store, plan); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "offsets of group %s in %s reset in %s; start the group's consumers to read from there\n", c.group, c.topic, store.Name())
	return nil
}

func (c *offsetsCommon) validate(fs *flag.FlagSet, needTopic bool) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), offsetsUsage)
	case c.group == "":
		return errors.New("missing --group: name the consumer group, such as " + defaultProcessGroup)
	case needTopic && c.topic == "":
		return errors.New("missing --topic: name the topic whose offsets move, such as mailtriage.inbound.v1")
	}
	return c.kafka.Validate()
}

// admin returns an admin client of the cluster and its close function.
func (c *offsetsCommon) admin() (*kadm.Client, func(), error) {
	opts, err := c.kafka.Opts()
	if err != nil {
		return nil, nil, err
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the Kafka client: %w", err)
	}
	return kadm.NewClient(client), client.Close, nil
}

// store returns where the group keeps its offsets: PostgreSQL when
// --postgres is given, when the group is the default group of the
// PostgreSQL or SMTP sink, or when $MAILTRIAGE_POSTGRES_DSN names a database whose
// consumer_offsets table has rows of the group; Kafka otherwise.
func (c *offsetsCommon) store(ctx context.Context, admin *kadm.Client, stderr io.Writer) (offsets.Store, func(), error) {
	kafkaStore := offsets.KafkaStore{Admin: admin}
	dsn, explicit := c.postgres, c.postgres != ""
	if !explicit {
		dsn = os.Getenv(envPostgresDSN)
	}
	// Both sinks keep their positions in the consumer_offsets table, in
	// the transaction that writes their rows.
	isSinkGroup := c.group == postgres.DefaultGroup || c.group == smtpsink.DefaultGroup

	if dsn == "" {
		if isSinkGroup {
			return nil, nil, fmt.Errorf("group %s belongs to a sink that keeps its offsets in the consumer_offsets table of its database, not in Kafka: pass --postgres DSN or set %s",
				c.group, envPostgresDSN)
		}
		return kafkaStore, func() {}, nil
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if explicit || isSinkGroup {
			return nil, nil, fmt.Errorf("connecting to PostgreSQL for the offsets of group %s: %w", c.group, err)
		}
		fmt.Fprintf(stderr, "note: could not check %s for offsets of group %s kept by the PostgreSQL sink (%v); using the offsets in Kafka\n", envPostgresDSN, c.group, err)
		return kafkaStore, func() {}, nil
	}
	closeConn := func() { conn.Close(context.Background()) }
	pgStore := offsets.PostgresStore{Conn: conn}
	if explicit || isSinkGroup {
		return pgStore, closeConn, nil
	}

	probeCtx, cancel := context.WithTimeout(ctx, postgresProbeTimeout)
	defer cancel()
	stored, err := pgStore.Fetch(probeCtx, c.group, c.topic)
	if err != nil || len(stored) == 0 {
		closeConn()
		return kafkaStore, func() {}, nil
	}
	fmt.Fprintf(stderr, "note: group %s keeps its offsets in the PostgreSQL database of %s (table consumer_offsets), so those are used\n", c.group, envPostgresDSN)
	return pgStore, closeConn, nil
}
