package offsets

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// modeKind is the way a Mode computes new positions.
type modeKind int

const (
	toDatetime modeKind = iota + 1
	toEarliest
	toLatest
	byOffset
	toOffsets
)

// Mode is the rule by which a reset computes the new positions. Create one with
// ToDatetime, ToEarliest, ToLatest, ByOffset or ToOffsets.
type Mode struct {
	kind    modeKind
	at      time.Time
	by      int64
	offsets map[int32]int64
}

// ToDatetime moves every partition to its first record at or after t,
// or to the log end when no record is that new.
func ToDatetime(t time.Time) Mode { return Mode{kind: toDatetime, at: t} }

// ToEarliest moves every partition to its log start offset.
func ToEarliest() Mode { return Mode{kind: toEarliest} }

// ToLatest moves every partition to its log end offset, skipping every
// record not yet read.
func ToLatest() Mode { return Mode{kind: toLatest} }

// ByOffset moves every partition by n records, negative to go back,
// clamped to the log start and end offsets.
func ByOffset(n int64) Mode { return Mode{kind: byOffset, by: n} }

// ToOffsets moves each listed partition to its offset and leaves the
// others where they are. Each offset must lie within the log.
func ToOffsets(offsets map[int32]int64) Mode { return Mode{kind: toOffsets, offsets: offsets} }

// ParseOffsetList reads PARTITION:OFFSET pairs separated by commas, such
// as "0:120,1:98".
func ParseOffsetList(s string) (map[int32]int64, error) {
	out := make(map[int32]int64)
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		partText, offsetText, ok := strings.Cut(pair, ":")
		if !ok {
			return nil, fmt.Errorf("invalid partition offset %q: use PARTITION:OFFSET pairs separated by commas, such as 0:120,1:98", pair)
		}
		p, err := strconv.ParseInt(partText, 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("invalid partition %q in %q: use a number from 0", partText, pair)
		}
		o, err := strconv.ParseInt(offsetText, 10, 64)
		if err != nil || o < 0 {
			return nil, fmt.Errorf("invalid offset %q in %q: use a number from 0", offsetText, pair)
		}
		if _, dup := out[int32(p)]; dup {
			return nil, fmt.Errorf("partition %d is given twice in %q: give each partition once", p, s)
		}
		out[int32(p)] = o
	}
	return out, nil
}

// Move is the planned change of one partition.
type Move struct {
	Partition int32
	// Current is the stored position, or -1 when there is none.
	Current int64
	New     int64
	Bounds
}

// Diff returns New minus the position the group would read from now:
// Current, or Start when there is none. Negative means records are read
// again.
func (m Move) Diff() int64 {
	from := m.Current
	if from < 0 {
		from = m.Start
	}
	return m.New - from
}

// Plan is a reset of one group in one topic.
type Plan struct {
	Group string
	Topic string
	Store string
	Moves []Move
}

// PlanReset computes the new positions of group in topic by mode, from
// the positions in store and the log offsets. It changes nothing.
func PlanReset(ctx context.Context, admin *kadm.Client, store Store, group, topic string, mode Mode) (Plan, error) {
	bounds, err := listBounds(ctx, admin, topic)
	if err != nil {
		return Plan{}, err
	}
	stored, err := store.Fetch(ctx, group, topic)
	if err != nil {
		return Plan{}, err
	}
	targets, err := targetOffsets(ctx, admin, topic, bounds, stored[topic], mode)
	if err != nil {
		return Plan{}, err
	}

	plan := Plan{Group: group, Topic: topic, Store: store.Name()}
	for p, next := range targets {
		current, ok := stored[topic][p]
		if !ok {
			current = -1
		}
		plan.Moves = append(plan.Moves, Move{Partition: p, Current: current, New: next, Bounds: bounds[p]})
	}
	sort.Slice(plan.Moves, func(i, j int) bool { return plan.Moves[i].Partition < plan.Moves[j].Partition })
	return plan, nil
}

// targetOffsets returns the new position of each partition that mode
// moves.
func targetOffsets(ctx context.Context, admin *kadm.Client, topic string, bounds map[int32]Bounds, stored map[int32]int64, mode Mode) (map[int32]int64, error) {
	out := make(map[int32]int64, len(bounds))
	switch mode.kind {
	case toEarliest:
		for p, b := range bounds {
			out[p] = b.Start
		}
	case toLatest:
		for p, b := range bounds {
			out[p] = b.End
		}
	case byOffset:
		for p, b := range bounds {
			from, ok := stored[p]
			if !ok {
				from = b.Start
			}
			out[p] = min(max(from+mode.by, b.Start), b.End)
		}
	case toDatetime:
		listed, err := admin.ListOffsetsAfterMilli(ctx, mode.at.UnixMilli(), topic)
		if err != nil {
			return nil, fmt.Errorf("listing the offsets of %s at %s: %w", topic, mode.at.Format(time.RFC3339), err)
		}
		for p, b := range bounds {
			o, ok := listed.Lookup(topic, p)
			switch {
			case !ok:
				return nil, fmt.Errorf("listing the offset of %s/%d at %s returned nothing", topic, p, mode.at.Format(time.RFC3339))
			case o.Err != nil:
				return nil, topicError(topic, p, o.Err)
			case o.Offset < 0:
				out[p] = b.End // no record that new
			default:
				out[p] = min(max(o.Offset, b.Start), b.End)
			}
		}
	case toOffsets:
		for p, o := range mode.offsets {
			b, ok := bounds[p]
			if !ok {
				return nil, fmt.Errorf("topic %s has no partition %d: it has partitions 0 to %d", topic, p, len(bounds)-1)
			}
			if o < b.Start || o > b.End {
				return nil, fmt.Errorf("offset %d is outside partition %s/%d, which contains offsets %d to %d: pick an offset in that range (%d is the log end)",
					o, topic, p, b.Start, b.End, b.End)
			}
			out[p] = o
		}
	default:
		return nil, fmt.Errorf("no reset mode given: use ToDatetime, ToEarliest, ToLatest, ByOffset or ToOffsets")
	}
	return out, nil
}

// Apply stores the new positions of plan.
func Apply(ctx context.Context, store Store, plan Plan) error {
	positions := make(Positions)
	for _, m := range plan.Moves {
		positions.set(plan.Topic, m.Partition, m.New)
	}
	return store.Commit(ctx, plan.Group, positions)
}

// WritePlan writes one line per partition: current, new and difference.
func WritePlan(w io.Writer, plan Plan) error {
	fmt.Fprintf(w, "group %s, topic %s, offsets stored in %s:\n", plan.Group, plan.Topic, plan.Store)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "PARTITION\tCURRENT\tNEW\tDIFFERENCE\t")
	for _, m := range plan.Moves {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%+d\t\n", m.Partition, offsetText(m.Current), m.New, m.Diff())
	}
	return tw.Flush()
}
