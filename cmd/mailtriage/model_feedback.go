package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mailtriage/internal/kafkaconfig"
	"mailtriage/schemas"
	"mailtriage/topics"
)

const exportFeedbackUsage = `usage: mailtriage model export-feedback --brokers host:port [Kafka flags] [--tenant T] [--since TIME] --out FILE.csv|FILE.jsonl

Reads every committed feedback event, keeps the last reassignment of each
ticket and writes its training text (the redacted subject and reply text)
with the new queue as the label: a CSV with the header text,label, or JSON
lines with the keys text and label. Train on it with
  mailtriage model train --data FILE --text-col text --label-col label --out MODEL`

// exportFeedback runs "mailtriage model export-feedback". It reads the
// feedback topic from the start to its end at the time it starts and
// keeps the last reassignment of each ticket. It writes one text,label
// row per ticket, the label being the queue a person chose, and reports
// the counts to report.
func exportFeedback(ctx context.Context, args []string, report io.Writer) error {
	fs := flag.NewFlagSet("model export-feedback", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), exportFeedbackUsage)
		fs.PrintDefaults()
	}
	var kafka kafkaconfig.Config
	kafka.AddFlags(fs)
	topic := fs.String("topic", topics.Feedback, "topic of the feedback events")
	tenant := fs.String("tenant", "", "export only this tenant's tickets (default: every tenant)")
	since := fs.String("since", "", "export only reassignments at or after this `time`: "+timeForms)
	out := fs.String("out", "", "output `file`: .csv for text,label rows, .jsonl for JSON lines (required)")
	timeout := fs.Duration("timeout", 5*time.Minute, "maximum time to read the topic")
	registryURL := addSchemaRegistryFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), exportFeedbackUsage)
	}

	format, err := exportFormat(*out)
	if err != nil {
		return err
	}
	selection := feedbackSelection{tenant: *tenant}
	if selection.since, _, err = parseTimeFlag("since", *since, time.Now()); err != nil {
		return err
	}
	if *timeout <= 0 {
		return fmt.Errorf("invalid --timeout %v: use a positive duration such as 5m", *timeout)
	}
	kafkaOpts, err := kafka.Opts()
	if err != nil {
		return err
	}
	serde, err := sinkSerde(*registryURL)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err = readTopicToEnd(ctx, kafkaOpts, *topic, func(rec feedbackRecord) {
		selection.add(ctx, serde, rec)
	})
	if err != nil {
		return err
	}

	rows := selection.rows()
	if err := writeTrainingFile(*out, format, rows); err != nil {
		return err
	}
	fmt.Fprintf(report, "wrote %d rows to %s from %d feedback events; skipped %s\n",
		len(rows), *out, selection.read, selection.skippedSummary())
	return nil
}

// exportFormat returns "csv" or "jsonl" from the extension of path.
func exportFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv", nil
	case ".jsonl":
		return "jsonl", nil
	case "":
		if path == "" {
			return "", errors.New("missing --out: name the output file, ending in .csv or .jsonl")
		}
	}
	return "", fmt.Errorf("invalid --out %q: the file name must end in .csv or .jsonl", path)
}

// feedbackRecord is the part of a Kafka record that the export reads.
type feedbackRecord struct {
	partition int32
	offset    int64
	value     []byte
}

// feedbackSelection keeps the last reassignment of each ticket among the
// records added to it, and counts the records it leaves out.
type feedbackSelection struct {
	tenant string    // empty keeps every tenant
	since  time.Time // zero keeps every time

	read        int // records added
	undecodable int
	otherTenant int
	tooOld      int
	latest      map[string]selected // by tenant/ticketRef
	superseded  int                 // older reassignments and repeated copies
	empty       int                 // newest events without text or queue
}

// selected is the newest event seen so far for one ticket.
type selected struct {
	event     schemas.FeedbackEvent
	partition int32
	offset    int64
}

// add decodes rec and keeps it when it is the newest reassignment of its
// ticket so far. Newest means the latest At, and for equal times the
// higher partition, then the higher offset. The records of one ticket
// share a key and so a partition, unless the partition count changed.
func (s *feedbackSelection) add(ctx context.Context, serde *schemas.Serde, rec feedbackRecord) {
	s.read++
	var ev schemas.FeedbackEvent
	if err := serde.DecodeContext(ctx, rec.value, &ev); err != nil {
		s.undecodable++
		return
	}
	if s.tenant != "" && ev.Tenant != s.tenant {
		s.otherTenant++
		return
	}
	if !s.since.IsZero() && ev.At.Before(s.since) {
		s.tooOld++
		return
	}

	if s.latest == nil {
		s.latest = map[string]selected{}
	}
	key := ev.Key()
	current, ok := s.latest[key]
	if ok {
		s.superseded++
		newer := ev.At.After(current.event.At) ||
			(ev.At.Equal(current.event.At) && (rec.partition > current.partition ||
				(rec.partition == current.partition && rec.offset > current.offset)))
		if !newer {
			return
		}
	}
	s.latest[key] = selected{event: ev, partition: rec.partition, offset: rec.offset}
}

// trainingRow is one row of the output file.
type trainingRow struct {
	Text  string `json:"text"`
	Label string `json:"label"`
}

// rows returns the training rows in the order of tenant and ticketRef.
// Tickets whose first message had no text are left out and counted.
func (s *feedbackSelection) rows() []trainingRow {
	keys := make([]string, 0, len(s.latest))
	for key := range s.latest {
		keys = append(keys, key)
	}
	sort.Strings(keys)

	rows := make([]trainingRow, 0, len(keys))
	for _, key := range keys {
		ev := s.latest[key].event
		text := ev.TrainingText()
		if text == "" || ev.To.Queue == "" {
			s.empty++
			continue
		}
		rows = append(rows, trainingRow{Text: text, Label: ev.To.Queue})
	}
	return rows
}

// skippedSummary describes the records that gave no row.
func (s *feedbackSelection) skippedSummary() string {
	total := s.superseded + s.undecodable + s.otherTenant + s.tooOld + s.empty
	return fmt.Sprintf("%d (%d older or repeated events of a ticket, %d undecodable, %d of other tenants, %d before --since, %d without text or queue)",
		total, s.superseded, s.undecodable, s.otherTenant, s.tooOld, s.empty)
}

// writeTrainingFile writes rows to path in format through a temporary
// file in the same folder, so that a failed export leaves no partial file.
func writeTrainingFile(path, format string, rows []trainingRow) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("creating the output file next to %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	if format == "csv" {
		err = writeCSV(tmp, rows)
	} else {
		err = writeJSONL(tmp, rows)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("moving the output into place at %s: %w", path, err)
	}
	return nil
}

func writeCSV(w io.Writer, rows []trainingRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"text", "label"}); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write([]string{r.Text, r.Label}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeJSONL(w io.Writer, rows []trainingRow) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
