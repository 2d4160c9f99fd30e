package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"mailtriage/internal/dlq"
	"mailtriage/internal/importer"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/topics"
)

func init() {
	register("dlq", "List, show and replay the dead letters of the dead-letter topic", runDLQ)
}

const dlqUsage = `usage:
  mailtriage dlq list   [flags] [--tenant T] [--stage S] [--error TEXT] [--since T] [--until T] [--json]
  mailtriage dlq show   [flags] PARTITION:OFFSET | EVENT-ID
  mailtriage dlq replay [flags] [--tenant T] [--stage S] [--error TEXT] [--since T] [--until T] [--dry-run] [--to TOPIC]
Run "mailtriage dlq ACTION -h" for the flags.`

// dlqCommon contains the flags of every dlq action.
type dlqCommon struct {
	kafka          kafkaconfig.Config
	topic          string
	schemaRegistry string
}

func (c *dlqCommon) addFlags(fs *flag.FlagSet) {
	c.kafka.AddFlags(fs)
	fs.StringVar(&c.topic, "topic", topics.DLQ, "dead-letter `topic` to read")
	fs.StringVar(&c.schemaRegistry, "schema-registry", "", schemaRegistryUsage)
}

// source validates c and returns where dead letters are read from.
func (c *dlqCommon) source() (dlq.Source, error) {
	if c.topic == "" {
		return dlq.Source{}, errors.New("empty --topic: name the dead-letter topic, by default " + topics.DLQ)
	}
	opts, err := c.kafka.Opts()
	if err != nil {
		return dlq.Source{}, err
	}
	serde, err := sinkSerde(c.schemaRegistry)
	if err != nil {
		return dlq.Source{}, err
	}
	return dlq.Source{KafkaOpts: opts, Topic: c.topic, Serde: serde}, nil
}

// filterFlags contains the filter flags of list and replay as given.
type filterFlags struct {
	filter dlq.Filter
	since  string
	until  string
}

func (f *filterFlags) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.filter.Tenant, "tenant", "", "select the dead letters of this `tenant`")
	fs.StringVar(&f.filter.Stage, "stage", "", "select the dead letters of this `stage`: "+strings.Join(dlqStages(), ", "))
	fs.StringVar(&f.filter.ErrorContains, "error", "", "select the dead letters whose error contains this `text`, in any letter case")
	fs.StringVar(&f.since, "since", "", "select the dead letters written at or after this `time`: "+timeForms)
	fs.StringVar(&f.until, "until", "", "select the dead letters written before this `time`, in the forms of --since; a date includes its whole day")
}

// resolve checks --stage and parses --since and --until relative to now.
func (f *filterFlags) resolve(now time.Time) (dlq.Filter, error) {
	if err := checkDLQStage(f.filter.Stage); err != nil {
		return f.filter, err
	}
	var err error
	f.filter.Since, f.filter.Until, err = parseTimeRange(f.since, f.until, now)
	return f.filter, err
}

func runDLQ(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("missing action: " + dlqUsage)
	}
	action, rest := args[0], args[1:]
	out := os.Stdout
	switch action {
	case "list":
		return dlqList(ctx, rest, out)
	case "show":
		return dlqShow(ctx, rest, out)
	case "replay":
		return dlqReplay(ctx, rest, out, term.IsTerminal(int(out.Fd())))
	case "-h", "--help", "help":
		fmt.Println(dlqUsage)
		return flag.ErrHelp
	}
	return fmt.Errorf("unknown action %q: %s", action, dlqUsage)
}

// dlqList runs "mailtriage dlq list".
func dlqList(ctx context.Context, args []string, out io.Writer) error {
	var common dlqCommon
	var filters filterFlags
	if err := common.kafka.FromEnv(); err != nil {
		return err
	}
	fs := flag.NewFlagSet("dlq list", flag.ContinueOnError)
	common.addFlags(fs)
	filters.addFlags(fs)
	asJSON := fs.Bool("json", false, "write one JSON object per dead letter and line, and the count to standard error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: dlq list takes only flags", fs.Arg(0))
	}
	filter, err := filters.resolve(time.Now())
	if err != nil {
		return err
	}
	src, err := common.source()
	if err != nil {
		return err
	}

	entries, err := dlq.List(ctx, src, filter)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := dlq.WriteJSON(out, entries); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%d dead letters\n", len(entries))
		return nil
	}
	return dlq.WriteList(out, entries)
}

// dlqShow runs "mailtriage dlq show".
func dlqShow(ctx context.Context, args []string, out io.Writer) error {
	var common dlqCommon
	if err := common.kafka.FromEnv(); err != nil {
		return err
	}
	fs := flag.NewFlagSet("dlq show", flag.ContinueOnError)
	common.addFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("dlq show takes one argument: the PARTITION:OFFSET or the event ID of a dead letter, as \"dlq list\" prints them")
	}
	src, err := common.source()
	if err != nil {
		return err
	}

	arg := fs.Arg(0)
	var entry *dlq.Entry
	if strings.Contains(arg, ":") {
		pos, perr := dlq.ParsePosition(arg)
		if perr != nil {
			return perr
		}
		entry, err = dlq.FindAt(ctx, src, pos)
	} else {
		entry, err = dlq.FindEventID(ctx, src, arg)
	}
	if err != nil {
		return err
	}
	return dlq.WriteDetail(out, src.Topic, entry)
}

// dlqReplay runs "mailtriage dlq replay". It shows a progress bar when
// out is a terminal and plain lines otherwise.
func dlqReplay(ctx context.Context, args []string, out io.Writer, terminal bool) error {
	var common dlqCommon
	var filters filterFlags
	if err := common.kafka.FromEnv(); err != nil {
		return err
	}
	fs := flag.NewFlagSet("dlq replay", flag.ContinueOnError)
	common.addFlags(fs)
	filters.addFlags(fs)
	dryRun := fs.Bool("dry-run", false, "list the dead letters that would be replayed and send nothing")
	to := fs.String("to", "", "send every replayed record to this `topic`, partitioned by key, in place of its source topic and partition")
	batch := fs.Int("batch", dlq.DefaultReplayBatch, "dead letters per Kafka transaction")
	txnID := fs.String("transactional-id", dlq.DefaultTransactionalID, "transactional `ID` of the replay producer; replays with the same ID cannot run at once")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: dlq replay takes only flags", fs.Arg(0))
	}
	if *batch < 1 {
		return fmt.Errorf("invalid --batch %d: use 1 or more", *batch)
	}
	if *txnID == "" {
		return errors.New("empty --transactional-id: name the replay producer, by default " + dlq.DefaultTransactionalID)
	}
	filter, err := filters.resolve(time.Now())
	if err != nil {
		return err
	}
	src, err := common.source()
	if err != nil {
		return err
	}

	var progress importer.Progress = &importer.LineProgress{W: out, Verb: "replayed", Every: 100}
	if terminal {
		progress = &importer.BarProgress{W: out, Description: "replaying", Unit: "dead letter"}
	}
	res, err := dlq.Replay(ctx, dlq.ReplayConfig{
		Source:          src,
		Filter:          filter,
		To:              *to,
		TransactionalID: *txnID,
		BatchSize:       *batch,
		DryRun:          *dryRun,
		Progress:        progress,
	})
	writeReplaySummary(out, res, *dryRun)
	if err != nil {
		return err
	}
	if n := len(res.NotReplayable); n > 0 {
		return fmt.Errorf("%d selected dead letters cannot be replayed from Kafka; the reasons are listed above", n)
	}
	return nil
}

// writeReplaySummary writes what a replay did, or in a dry run what it
// would do.
func writeReplaySummary(out io.Writer, res dlq.ReplayResult, dryRun bool) {
	if dryRun && len(res.Replayed) > 0 {
		fmt.Fprintln(out, "would replay:")
		_ = dlq.WriteList(out, res.Replayed)
	}
	for _, s := range res.NotReplayable {
		fmt.Fprintf(out, "not replayable: %s: %s\n", s.Entry.Position, s.Reason)
	}
	verb := "replayed"
	if dryRun {
		verb = "dry run: would replay"
	}
	fmt.Fprintf(out, "%s %d, skipped %d already replayed, %d not replayable\n",
		verb, len(res.Replayed), len(res.AlreadyReplayed), len(res.NotReplayable))
}
