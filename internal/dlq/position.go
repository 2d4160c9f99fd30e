package dlq

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is the place of a dead letter in the dead-letter topic.
type Position struct {
	Partition int32
	Offset    int64
}

// String formats p as PARTITION:OFFSET, the form ParsePosition reads.
func (p Position) String() string {
	return strconv.FormatInt(int64(p.Partition), 10) + ":" + strconv.FormatInt(p.Offset, 10)
}

// ParsePosition reads PARTITION:OFFSET, such as "2:1045".
func ParsePosition(s string) (Position, error) {
	partText, offsetText, ok := strings.Cut(s, ":")
	if !ok {
		return Position{}, fmt.Errorf("invalid dead-letter position %q: use PARTITION:OFFSET, such as 0:17", s)
	}
	partition, err := strconv.ParseInt(partText, 10, 32)
	if err != nil || partition < 0 {
		return Position{}, fmt.Errorf("invalid partition %q in %q: use a number from 0", partText, s)
	}
	offset, err := strconv.ParseInt(offsetText, 10, 64)
	if err != nil || offset < 0 {
		return Position{}, fmt.Errorf("invalid offset %q in %q: use a number from 0", offsetText, s)
	}
	return Position{Partition: int32(partition), Offset: offset}, nil
}
