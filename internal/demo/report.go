package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"mailtriage/schemas"
)

// Row is the outcome of one imported message.
type Row struct {
	File         string
	SenderDomain string
	Subject      string // redacted
	Queue        string
	Priority     string
	Reason       string
	Duplicate    bool
	PII          map[string]int32
	DeadLetter   string // "stage: error" when the message went to the dead-letter topic
}

// Totals sums the outcomes. Inbound = Routed + Duplicates + DLQ whenever
// nothing was lost.
type Totals struct {
	Inbound    int            `json:"inbound"`
	Routed     int            `json:"routed"`
	Duplicates int            `json:"duplicates"`
	DLQ        int            `json:"dlq"`
	Missing    int            `json:"missing"`
	Queues     map[string]int `json:"queues"`
	// Sinks counts the rows and posts the sinks stored for the run. It is
	// nil when no sink ran.
	Sinks *SinkTotals `json:"sinks,omitempty"`
}

// Report is the outcome of a demo run: one row per message and the totals.
type Report struct {
	Rows   []Row
	Totals Totals
}

// buildReport pairs each imported message with an outcome of its key. Copies
// of one message share a key and a partition, so their outcomes arrive in
// import order.
func buildReport(items []imported, byKey map[string][]outcome) *Report {
	r := &Report{Totals: Totals{Queues: make(map[string]int)}}
	for _, it := range items {
		row := Row{File: it.name}
		queue := byKey[it.key]
		if len(queue) == 0 {
			row.DeadLetter = "missing: no outcome was found"
			r.Totals.Missing++
			r.Rows = append(r.Rows, row)
			continue
		}
		o := queue[0]
		byKey[it.key] = queue[1:]
		r.add(&row, o)
		r.Rows = append(r.Rows, row)
	}
	r.Totals.Inbound = len(items)
	return r
}

func (r *Report) add(row *Row, o outcome) {
	if dl := o.deadLetter; dl != nil {
		row.DeadLetter = dl.Stage + ": " + dl.Error
		r.Totals.DLQ++
		return
	}
	d := o.decision
	row.SenderDomain = d.SenderDomain
	row.Subject = d.Subject
	row.Queue = d.Queue
	row.Priority = d.Priority
	row.Reason = describeReason(d.Reason)
	row.Duplicate = d.Duplicate
	row.PII = d.PII
	if d.Duplicate {
		row.Reason = "duplicate"
		r.Totals.Duplicates++
		return
	}
	r.Totals.Routed++
	r.Totals.Queues[d.Queue]++
}

// describeReason returns the REASON cell of a decision. A fallback that
// the model scored adds the model's top label and its probability, so
// that a reader can distinguish a threshold set too high from mail that
// the model cannot place.
func describeReason(reason schemas.Reason) string {
	switch reason.Kind {
	case schemas.ReasonRule:
		return "rule " + reason.RuleID
	case schemas.ReasonModel:
		return "model " + reason.ModelVersion
	case schemas.ReasonFallback:
		if len(reason.TopLabels) == 0 {
			return reason.Kind
		}
		top := reason.TopLabels[0]
		return fmt.Sprintf("%s (%s %.2f)", reason.Kind, shortenEnd(top.Label, labelWidth), top.Probability)
	default:
		return reason.Kind
	}
}

// Column widths of the table, in terminal columns. A longer value is cut
// and the cut marked with an ellipsis.
const (
	fileWidth    = 56  // keeps the end of the name
	domainWidth  = 40  // keeps the start
	subjectWidth = 40  // keeps the start
	reasonWidth  = 100 // the dead-letter reason, "stage: error"; keeps the start
	labelWidth   = 20  // the model's top label beside fallback; keeps the start
)

// WriteTable prints one line per message and the totals. A blank sender
// domain or subject prints as "-". A dead-letter row ends with the stage
// and the error in the REASON column.
func (r *Report) WriteTable(w io.Writer) error {
	var t table
	t.add("FILE", "SENDER DOMAIN", "SUBJECT", "QUEUE", "PRIORITY", "REASON", "DUPLICATE", "PII")
	for _, row := range r.Rows {
		file := shortenStart(row.File, fileWidth)
		if row.DeadLetter != "" {
			t.add(file, "-", "-", "DLQ", "-", shortenEnd(row.DeadLetter, reasonWidth))
			continue
		}
		t.add(file,
			orDash(shortenEnd(row.SenderDomain, domainWidth)),
			orDash(shortenEnd(row.Subject, subjectWidth)),
			orDash(row.Queue),
			orDash(row.Priority),
			row.Reason,
			yesNo(row.Duplicate),
			describePII(row.PII))
	}
	if err := t.write(w); err != nil {
		return err
	}

	totals := r.Totals
	fmt.Fprintf(w, "\ninbound %d = routed %d + duplicates %d + dlq %d", totals.Inbound, totals.Routed, totals.Duplicates, totals.DLQ)
	if totals.Missing > 0 {
		fmt.Fprintf(w, " + missing %d", totals.Missing)
	}
	fmt.Fprintln(w)
	for _, q := range sortedKeys(totals.Queues) {
		fmt.Fprintf(w, "  %-18s %d\n", q, totals.Queues[q])
	}
	totals.Sinks.write(w)
	return nil
}

// WriteJSON prints the totals as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	return enc.Encode(r.Totals)
}

func describePII(counts map[string]int32) string {
	if len(counts) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(counts))
	for _, kind := range sortedKeys(counts) {
		parts = append(parts, fmt.Sprintf("%s:%d", kind, counts[kind]))
	}
	return strings.Join(parts, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
