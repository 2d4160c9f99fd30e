package dlq

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// listErrorWidth is the number of runes of the error shown per line.
const listErrorWidth = 80

// WriteList writes one line per dead letter, with a header line, and ends
// with the count. Time is the record timestamp in UTC.
func WriteList(w io.Writer, entries []*Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tDLQ\tTENANT\tSTAGE\tSOURCE\tATTEMPTS\tERROR")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
			e.Time.UTC().Format(time.RFC3339), e.Position, orDash(e.Tenant), orDash(e.Stage),
			orDash(e.Source()), e.Attempts, listError(e))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, countText(len(entries)))
	return err
}

// countText returns "1 dead letter" or "N dead letters".
func countText(n int) string {
	if n == 1 {
		return "1 dead letter"
	}
	return fmt.Sprintf("%d dead letters", n)
}

func listError(e *Entry) string {
	if e.Error == "" && e.DecodeErr != nil {
		return "(unreadable: " + e.DecodeErr.Error() + ")"
	}
	return e.FirstErrorLine(listErrorWidth)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// jsonEntry is the JSON form of an Entry. It never contains the source
// key or payload.
type jsonEntry struct {
	Time            time.Time `json:"time"`
	Partition       int32     `json:"partition"`
	Offset          int64     `json:"offset"`
	EventID         string    `json:"eventId"`
	Tenant          string    `json:"tenant"`
	Stage           string    `json:"stage"`
	SourceTopic     string    `json:"sourceTopic"`
	SourcePartition int32     `json:"sourcePartition"`
	SourceOffset    int64     `json:"sourceOffset"`
	Attempts        int32     `json:"attempts"`
	TraceID         string    `json:"traceId,omitempty"`
	Error           string    `json:"error"`
}

// WriteJSON writes one JSON object per dead letter and line (JSON Lines).
func WriteJSON(w io.Writer, entries []*Entry) error {
	enc := json.NewEncoder(w)
	for _, e := range entries {
		err := enc.Encode(jsonEntry{
			Time: e.Time.UTC(), Partition: e.Partition, Offset: e.Offset,
			EventID: e.EventID, Tenant: e.Tenant, Stage: e.Stage,
			SourceTopic: e.SourceTopic, SourcePartition: e.SourcePartition, SourceOffset: e.SourceOffset,
			Attempts: e.Attempts, TraceID: e.TraceID, Error: e.Error,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteDetail writes every field and header of e. It writes the sizes of
// the source key and payload and a hash of the key, never their bytes,
// because they may contain personal data such as addresses.
func WriteDetail(w io.Writer, topic string, e *Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name, fmt.Sprintf(format, args...))
	}

	row("dead letter", "%s %s", topic, e.Position)
	row("written at", "%s", e.Time.UTC().Format(time.RFC3339Nano))
	row("event ID", "%s", orDash(e.EventID))
	row("tenant", "%s", orDash(e.Tenant))
	row("stage", "%s", orDash(e.Stage))
	row("source", "%s", orDash(e.Source()))
	row("attempts", "%d", e.Attempts)
	row("trace ID", "%s", orDash(e.TraceID))

	if dl := e.Letter; dl != nil {
		row("failed at", "%s", dl.FailedAt.UTC().Format(time.RFC3339Nano))
		row("source key", "%d bytes, key hash %s", len(dl.Key), KeyHash(dl.Key))
		row("payload", "%d bytes", len(dl.Payload))
		if dl.Raw != nil {
			row("raw storage key", "%s", dl.Raw.Key)
			row("raw sha256", "%s", dl.Raw.SHA256)
			row("raw size", "%d bytes", dl.Raw.Size)
		} else {
			row("raw storage key", "-")
		}
	} else {
		row("value", "%d bytes, not decoded: %v", len(e.Record.Value), e.DecodeErr)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "error:")
	for _, line := range strings.Split(orDash(e.Error), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}

	fmt.Fprintf(w, "headers (%d):\n", len(e.Record.Headers))
	for _, h := range e.Record.Headers {
		fmt.Fprintf(w, "  %s: %s\n", h.Key, strings.ReplaceAll(string(h.Value), "\n", `\n`))
	}
	return nil
}
