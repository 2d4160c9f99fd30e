package offsets

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Row is the position of a group in one partition.
type Row struct {
	Topic     string
	Partition int32
	// Committed is the stored position, or -1 when the group has none
	// and would start at Start.
	Committed int64
	Bounds
}

// Lag returns the records between the group's position and the end of
// the partition. Transaction markers count as records.
func (r Row) Lag() int64 {
	from := r.Committed
	if from < 0 {
		from = r.Start
	}
	return max(r.End-from, 0)
}

// Report is the output of Show.
type Report struct {
	Group Group
	Store string // name of the Store that keeps the positions, such as "Kafka"
	Rows  []Row
}

// Show returns the state and members of group and its position in every
// partition of topic, or, when topic is empty, of every topic for which
// store has positions.
func Show(ctx context.Context, admin *kadm.Client, store Store, group, topic string) (Report, error) {
	g, err := DescribeGroup(ctx, admin, group)
	if err != nil {
		return Report{}, err
	}
	stored, err := store.Fetch(ctx, group, topic)
	if err != nil {
		return Report{}, err
	}
	names := []string{topic}
	if topic == "" {
		names = stored.Topics()
		if len(names) == 0 {
			return Report{}, fmt.Errorf("group %s has no offsets stored in %s: pass --topic to see the log offsets of a topic, or check the group name (\"mailtriage offsets show\" prints it exactly)",
				group, store.Name())
		}
	}

	rep := Report{Group: g, Store: store.Name()}
	for _, name := range names {
		bounds, err := listBounds(ctx, admin, name)
		if err != nil {
			return Report{}, err
		}
		for _, p := range sortedPartitions(bounds) {
			committed, ok := stored[name][p]
			if !ok {
				committed = -1
			}
			rep.Rows = append(rep.Rows, Row{Topic: name, Partition: p, Committed: committed, Bounds: bounds[p]})
		}
	}
	return rep, nil
}

// WriteReport writes the group line, its members and one line per
// partition.
func WriteReport(w io.Writer, rep Report) error {
	g := rep.Group
	fmt.Fprintf(w, "group %s: state %s, %s protocol, %d members, offsets stored in %s\n",
		g.Name, g.State, g.Protocol, len(g.Members), rep.Store)
	for _, m := range g.Members {
		fmt.Fprintf(w, "  member: client %s on host %s (member ID %s)\n", m.ClientID, m.Host, m.MemberID)
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tLOG START\tLOG END\tLAG\t")
	var total int64
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t\n", r.Topic, r.Partition, offsetText(r.Committed), r.Start, r.End, r.Lag())
		total += r.Lag()
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "total lag %d\n", total)
	return err
}

// offsetText formats a position, "-" when there is none.
func offsetText(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}
